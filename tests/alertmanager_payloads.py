"""Alertmanager 0.25 webhook payloads kept as files (tests/data/alertmanager), and a function served in-process."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from functions_framework import create_app

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
