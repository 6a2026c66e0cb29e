"""The Kubernetes client is built from KUBECONFIG or the pod's service account, or not at all, with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kubeconfig import write_kubeconfig
from whooper_common.config import ConfigError
from whooper_common.kube import api_client


def test_kubeconfig_gives_its_cluster_and_token(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", server="https://10.1.2.3:6443", token="abc123")
    client = api_client({"KUBECONFIG": str(path), "KUBERNETES_SERVICE_HOST": "10.96.0.1"})
    assert client.configuration.host == "https://10.1.2.3:6443"
    assert client.configuration.api_key["BearerToken"].endswith("abc123")


def test_missing_kubeconfig_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"KUBECONFIG=.*nowhere.* cannot be used"):
        api_client({"KUBECONFIG": str(tmp_path / "nowhere")})


def test_service_account_is_used_in_a_cluster(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("service-account-token")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    client = api_client(env, service_account_dir=tmp_path)
    assert client.configuration.host == "https://10.96.0.1:443"
    assert client.configuration.api_key["BearerToken"] == "bearer service-account-token"
    assert client.configuration.ssl_ca_cert == str(tmp_path / "ca.crt")


def test_cluster_without_a_mounted_token_says_what_to_check(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(ConfigError, match="automountServiceAccountToken") as raised:
        api_client(env, service_account_dir=tmp_path)
    assert "token file does not exist" in str(raised.value)


def test_no_credentials_at_all_says_both_ways_to_give_them() -> None:
    with pytest.raises(ConfigError, match="set KUBECONFIG") as raised:
        api_client({})
    assert "service account" in str(raised.value)
