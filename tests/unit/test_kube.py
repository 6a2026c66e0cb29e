"""whooper_common.kube: an ApiClient from KUBECONFIG or the service account, or a ConfigError saying why not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whooper_common.config import ConfigError
from whooper_common.kube import api_client


def test_a_kubeconfig_gives_a_client_for_its_server_and_token(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    client = api_client({"KUBECONFIG": str(path)})
    try:
        assert client.configuration.host == "https://10.0.0.1:6443"
        assert client.configuration.api_key == {"BearerToken": "Bearer t0ken"}
    finally:
        client.close()


def test_an_unusable_kubeconfig_names_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("{}")
    with pytest.raises(ConfigError, match="KUBECONFIG="):
        api_client({"KUBECONFIG": str(path)})


def test_outside_a_cluster_without_kubeconfig_says_both_ways_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match=r"not running in a cluster.*KUBECONFIG is not set"):
        api_client({})
