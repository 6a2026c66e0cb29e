"""A kubeconfig file for tests: a cluster address and a bearer token, as kubectl would write them."""

from __future__ import annotations

import json
from pathlib import Path


def write_kubeconfig(path: Path, server: str = "http://127.0.0.1:9", token: str = "test-token") -> Path:  # noqa: S107
    """Write a kubeconfig (JSON is YAML) whose current context reaches ``server`` with ``token``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "users": [{"name": "test", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "current-context": "test",
    }
    path.write_text(json.dumps(config))
    return path
