"""pod_exporter's settings: required, checked at start, with defaults that suit a one-minute tick."""

from __future__ import annotations

from pathlib import Path

import pytest

from pod_exporter.config import load_config
from tests.kubeconfig import write_kubeconfig
from whooper_common.config import ConfigError


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
