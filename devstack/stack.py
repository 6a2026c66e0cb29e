"""Real Prometheus, Alertmanager and Pushgateway containers with per-run configuration.

Every container runs with host networking on a free port of 127.0.0.1, so the
containers and the functions under test meet on the loopback: Prometheus
scrapes the Pushgateway and the functions, Alertmanager posts to a webhook
served on the host.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from devstack.engine import ALERTMANAGER, PROMETHEUS, PUSHGATEWAY, Component, Engine, ensure_engine
from devstack.ports import free_port

log = logging.getLogger("devstack.stack")


class StackError(RuntimeError):
    """A container did not come up; the message carries its last log lines."""


@dataclass
class Service:
    """One running container: its URL, its port and how to stop it."""

    name: str
    port: int
    container: Any  # testcontainers DockerContainer (imported lazily, see engine)
    config_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def logs(self) -> str:
        with contextlib.suppress(Exception):
            out, err = self.container.get_logs()
            return bytes(out + err).decode(errors="replace")
        return ""

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.container.stop()
        shutil.rmtree(self.config_dir, ignore_errors=True)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll until ``condition()`` returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # the thing polled is allowed to fail until the deadline
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"{what} not met within {timeout:.1f} s{detail}")
        time.sleep(interval)


def _config_dir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"whooper-{name}-"))
    path.chmod(0o755)
    return path


def _write(directory: Path, filename: str, content: str | Mapping[str, Any]) -> None:
    text = content if isinstance(content, str) else yaml.safe_dump(dict(content), sort_keys=False)
    path = directory / filename
    path.write_text(text)
    path.chmod(0o644)


def _start(engine: Engine, component: Component, port: int, args: list[str], config_dir: Path) -> Service:
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer(engine.image(component))
        .with_kwargs(network_mode="host", entrypoint=[engine.binary(component)])
        .with_command(args)
        .with_volume_mapping(str(config_dir), "/etc/whooper", "ro")
    )
    container.start()
    service = Service(name=component.name, port=port, container=container, config_dir=config_dir)
    try:
        wait_until(
            lambda: requests.get(f"{service.url}/-/ready", timeout=1).status_code == 200,
            timeout=60,
            what=f"{component.name} ready",
        )
    except TimeoutError as error:
        logs = service.logs()[-3000:]
        service.stop()
        raise StackError(f"{component.name} did not become ready: {error}\n{logs}") from error
    log.info("%s ready at %s", component.name, service.url)
    return service


def start_pushgateway(engine: Engine | None = None) -> Service:
    engine = engine or ensure_engine()
    port = free_port()
    return _start(engine, PUSHGATEWAY, port, [f"--web.listen-address=127.0.0.1:{port}"], _config_dir("pushgateway"))


def start_alertmanager(
    config: str | Mapping[str, Any], engine: Engine | None = None, files: Mapping[str, str] | None = None
) -> Service:
    """Alertmanager with clustering off and the given configuration (YAML text or a mapping).

    ``files`` (name -> content) land beside the configuration, in ``/etc/whooper/`` inside the
    container, e.g. a bearer token read through ``credentials_file``.
    """
    engine = engine or ensure_engine()
    port = free_port()
    config_dir = _config_dir("alertmanager")
    _write(config_dir, "alertmanager.yml", config)
    for name, content in (files or {}).items():
        _write(config_dir, name, content)
    args = [
        "--config.file=/etc/whooper/alertmanager.yml",
        "--storage.path=/alertmanager",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return _start(engine, ALERTMANAGER, port, args, config_dir)


def start_prometheus(
    scrape_configs: Sequence[Mapping[str, Any]],
    rules: Mapping[str, str | Mapping[str, Any]] | None = None,
    alertmanager: Service | None = None,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    engine: Engine | None = None,
) -> Service:
    """Prometheus with the given scrape configs and rule files (name -> YAML text or mapping)."""
    engine = engine or ensure_engine()
    port = free_port()
    config_dir = _config_dir("prometheus")
    rules = rules or {}
    for name, content in rules.items():
        _write(config_dir, name, content)
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": [f"/etc/whooper/{name}" for name in rules],
        "scrape_configs": [dict(c) for c in scrape_configs],
    }
    if alertmanager is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.address]}]}]}
    _write(config_dir, "prometheus.yml", config)
    args = [
        "--config.file=/etc/whooper/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]
    return _start(engine, PROMETHEUS, port, args, config_dir)


def query(prometheus: Service, promql: str) -> list[dict[str, Any]]:
    """An instant query; the result vector."""
    response = requests.get(f"{prometheus.url}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "success":
        raise StackError(f"query {promql!r} failed: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def alerts(prometheus: Service) -> list[dict[str, Any]]:
    """Alerts Prometheus currently holds (pending or firing)."""
    response = requests.get(f"{prometheus.url}/api/v1/alerts", timeout=5)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["alerts"]
    return result
