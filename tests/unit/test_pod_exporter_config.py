"""pod_exporter's settings: required, checked at start, with defaults that suit a one-minute tick."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pod_exporter.config import load_config
from tests.kubeconfig import write_kubeconfig
from whooper_common.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PUSHGATEWAY_URL": "http://pushgateway.monitoring:9091",
        "KUBECONFIG": str(write_kubeconfig(tmp_path / "kc")),
    }


def test_defaults(env: dict[str, str]) -> None:
    config = load_config(env)
    assert config.pushgateway_url == "http://pushgateway.monitoring:9091"
    assert config.namespaces == ()
    assert config.page_size == 500
    assert config.kube_timeout == 10.0
    assert config.push_timeout == 10.0
    assert config.api.configuration.host == "http://127.0.0.1:9"


def test_every_setting_is_read(env: dict[str, str]) -> None:
    env |= {
        "WATCH_NAMESPACES": " shop, batch ,,shop",
        "POD_PAGE_SIZE": "200",
        "KUBE_TIMEOUT_SECONDS": "2.5",
        "PUSHGATEWAY_TIMEOUT_SECONDS": "4",
    }
    config = load_config(env)
    assert config.namespaces == ("shop", "batch")
    assert (config.page_size, config.kube_timeout, config.push_timeout) == (200, 2.5, 4.0)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PUSHGATEWAY_URL", "", "PUSHGATEWAY_URL is not set"),
        ("PUSHGATEWAY_URL", "pushgateway:9091", "not an http\\(s\\) URL"),
        ("PUSHGATEWAY_URL", "http://admin:hunter2@pushgateway:9091", "must not carry a user or password"),
        ("WATCH_NAMESPACES", "shop,Bad_Name", "'Bad_Name', which is not a namespace name"),
        ("POD_PAGE_SIZE", "0", "POD_PAGE_SIZE=0 is below the minimum of 1"),
        ("KUBE_TIMEOUT_SECONDS", "soon", "KUBE_TIMEOUT_SECONDS='soon' is not a number"),
        ("KUBECONFIG", "/nowhere/kubeconfig", "KUBECONFIG='/nowhere/kubeconfig' cannot be used"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], variable: str, value: str, message: str) -> None:
    env[variable] = value
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(env)
    assert "hunter2" not in str(raised.value)


# Builds the app in a fresh interpreter and says whether it built and whether the kubernetes package got loaded.
BUILD = """
import json, sys
from pod_exporter.app import build
from whooper_common.config import ConfigError
try:
    build(json.loads(sys.argv[1]))
    outcome = "built"
except ConfigError as error:
    outcome = str(error)
print(json.dumps({"outcome": outcome, "kubernetes_loaded": "kubernetes" in sys.modules}))
"""


def build_in_a_fresh_process(env: dict[str, str]) -> dict[str, Any]:
    paths = os.pathsep.join([str(ROOT / "functions"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", BUILD, json.dumps(env)],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": paths},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_building_does_not_load_the_kubernetes_client(env: dict[str, str]) -> None:
    # The client (most of a second to import) is made by the first run, so /healthz answers without it.
    assert build_in_a_fresh_process(env) == {"outcome": "built", "kubernetes_loaded": False}


@pytest.mark.parametrize(
    ("kube_env", "message"),
    [
        ({"KUBECONFIG": "/nowhere/kubeconfig"}, "KUBECONFIG='/nowhere/kubeconfig' cannot be used"),
        ({}, "no Kubernetes credentials: set KUBECONFIG"),
    ],
)
def test_missing_credentials_stop_the_build_without_loading_the_client(
    env: dict[str, str], kube_env: dict[str, str], message: str
) -> None:
    env.pop("KUBECONFIG")
    result = build_in_a_fresh_process(env | kube_env)
    assert message in result["outcome"]
    assert result["kubernetes_loaded"] is False
