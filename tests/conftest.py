"""Fixtures shared by every test: a clean environment, and the real parts later tests stand on."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.engine import Engine, ensure_engine
from devstack.functions import ServedFunction
from devstack.receiver import Receiver
from devstack.smtp import MailCatcher
from devstack.stack import Service, start_alertmanager, start_prometheus, start_pushgateway

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration/ is an integration test, so ``-m integration`` selects it."""
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """No test can leak configuration into another."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """A container engine with the Prometheus stack images (podman + Debian images where no Docker answers)."""
    started = ensure_engine()
    yield started
    started.stop()


class Stack:
    """Starts Prometheus, Alertmanager and Pushgateway containers for one test and stops them after it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._services: list[Service] = []

    def pushgateway(self) -> Service:
        return self._keep(start_pushgateway(self._engine))

    def alertmanager(self, config: str | dict[str, Any]) -> Service:
        return self._keep(start_alertmanager(config, self._engine))

    def prometheus(self, scrape_configs: list[dict[str, Any]], **kwargs: Any) -> Service:
        return self._keep(start_prometheus(scrape_configs, engine=self._engine, **kwargs))

    def _keep(self, service: Service) -> Service:
        self._services.append(service)
        return service

    def stop(self) -> None:
        for service in reversed(self._services):
            service.stop()


@pytest.fixture
def stack(engine: Engine) -> Iterator[Stack]:
    started = Stack(engine)
    yield started
    started.stop()


@pytest.fixture
def mail() -> Iterator[MailCatcher]:
    """A real SMTP server on a free port that keeps every message."""
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
def receiver() -> Iterator[Callable[[], Receiver]]:
    """Make HTTP receivers that record what is posted to them; all stopped after the test."""
    started: list[Receiver] = []

    def make() -> Receiver:
        started.append(Receiver().start())
        return started[-1]

    yield make
    for item in started:
        item.stop()


@pytest.fixture
def serve_function() -> Iterator[Callable[..., ServedFunction]]:
    """Serve a function with functions-framework in its own process; stopped by PID after the test."""
    started: list[ServedFunction] = []

    def serve(name: str, env: dict[str, str] | None = None) -> ServedFunction:
        started.append(ServedFunction(name, env).start())
        return started[-1]

    yield serve
    for item in started:
        item.stop()
