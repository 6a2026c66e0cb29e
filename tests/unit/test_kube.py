"""The Kubernetes client is built from KUBECONFIG or the pod's service account, or not at all, with a clear reason."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.kubeconfig import write_kubeconfig
from whooper_common.config import ConfigError, Env
from whooper_common.kube import LazyApiClient, api_client, check_credentials

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


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


def test_a_kubeconfig_list_needs_one_readable_file(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config")
    check_credentials({"KUBECONFIG": f"{tmp_path / 'missing'}:{path}"})
    with pytest.raises(ConfigError, match=r"KUBECONFIG=.* cannot be used: no readable kubeconfig") as raised:
        check_credentials({"KUBECONFIG": f"{tmp_path / 'missing'}:{tmp_path}"})
    assert "No such file or directory" in str(raised.value)
    assert "Is a directory" in str(raised.value)


@pytest.mark.parametrize(
    ("files", "env", "problem"),
    [
        ({"ca.crt": "ca"}, {"KUBERNETES_SERVICE_PORT": "443"}, "Service token file does not exist."),
        ({"token": "", "ca.crt": "ca"}, {"KUBERNETES_SERVICE_PORT": "443"}, "Token file exists but empty."),
        ({"token": "t"}, {"KUBERNETES_SERVICE_PORT": "443"}, "Service certification file does not exist."),
        ({"token": "t", "ca.crt": ""}, {"KUBERNETES_SERVICE_PORT": "443"}, "Cert file exists but empty."),
        ({"token": "t", "ca.crt": "ca"}, {}, "Service host/port is not set."),
    ],
)
def test_service_account_problems_are_found_without_the_client(
    tmp_path: Path, files: dict[str, str], env: dict[str, str], problem: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError, match="automountServiceAccountToken") as raised:
        check_credentials({"KUBERNETES_SERVICE_HOST": "10.96.0.1", **env}, service_account_dir=tmp_path)
    assert f"({problem})" in str(raised.value)


def test_the_lazy_client_is_made_once_for_every_thread(tmp_path: Path) -> None:
    made: list[object] = []

    def make(env: Env, service_account_dir: Path) -> ApiClient:
        client = api_client(env, service_account_dir)
        made.append(client)
        return client

    lazy = LazyApiClient({"KUBECONFIG": str(write_kubeconfig(tmp_path / "config"))}, make=make)
    assert made == []  # nothing made until asked for
    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(lambda _: lazy.get(), range(32)))
    assert len(made) == 1
    assert all(client is made[0] for client in clients)


def test_the_lazy_client_tries_again_after_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("kind: Config\n")  # readable, but no cluster in it
    lazy = LazyApiClient({"KUBECONFIG": str(path)})
    with pytest.raises(ConfigError, match=r"KUBECONFIG=.* cannot be used: Invalid kube-config"):
        lazy.get()
    write_kubeconfig(path, server="https://10.1.2.3:6443")
    assert lazy.get().configuration.host == "https://10.1.2.3:6443"
