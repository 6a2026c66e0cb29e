"""Test support: Alertmanager 0.25 payloads kept as files, a function served in-process, and /metrics samples."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from functions_framework import create_app
from prometheus_client.parser import text_string_to_metric_families

DATA = Path(__file__).parent / "data" / "alertmanager"
FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"
PAYLOAD_NAMES = sorted(path.stem for path in DATA.glob("*.json"))


def payload(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/data/alertmanager/<name>.json``, safe to mutate."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return copy.deepcopy(data)


def function_client(name: str, env: Mapping[str, str]) -> FlaskClient:
    """The function loaded by functions-framework in this process, configured by ``env``.

    ``os.environ`` is set because that is what the function reads; the autouse
    ``_restore_environ`` fixture puts it back after the test.
    """
    os.environ.update(env)
    client: FlaskClient = create_app(target="handle", source=str(FUNCTIONS / name / "main.py")).test_client()
    return client


def metric_value(exposition: str, name: str, labels: Mapping[str, str]) -> float:
    """One sample's value from a /metrics page, 0 when the series does not exist (yet)."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and sample.labels == dict(labels):
                return sample.value
    return 0.0
