"""A Kubernetes API client from the environment: ``KUBECONFIG`` for local runs, else the pod's service account.

The ``kubernetes`` package reads ``KUBECONFIG`` from ``os.environ`` when it is
imported, so it is imported here on first use, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from whooper_common.config import ConfigError, Env, get_str

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def api_client(env: Env, service_account_dir: Path = SERVICE_ACCOUNT_DIR) -> ApiClient:
    """A client for the cluster ``env`` points at; :class:`ConfigError` saying what to set when none is reachable.

    ``KUBECONFIG`` wins when set, as with kubectl; otherwise the in-cluster
    service account (``KUBERNETES_SERVICE_HOST``/``_PORT`` plus the mounted token
    and CA) is used. Requests are not retried inside the client: both callers
    are driven by events that are delivered again (the next PingSource tick, the
    Broker's retries), and a failure that surfaces at once keeps its own cause.
    """
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.config import ConfigException, incluster_config, kube_config

    configuration = Configuration()
    configuration.retries = False
    kubeconfig = get_str(env, "KUBECONFIG")
    if kubeconfig:
        try:
            kube_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=configuration, persist_config=False
            )
        except (ConfigException, OSError, ValueError) as error:
            raise ConfigError(f"KUBECONFIG={kubeconfig!r} cannot be used: {error}") from None
        return ApiClient(configuration)
    if not get_str(env, "KUBERNETES_SERVICE_HOST"):
        raise ConfigError(
            "no Kubernetes credentials: set KUBECONFIG to a kubeconfig file for local runs, "
            "or run in a pod whose service account token is mounted (KUBERNETES_SERVICE_HOST is not set)"
        )
    loader = incluster_config.InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=str(service_account_dir / "token"),
        cert_filename=str(service_account_dir / "ca.crt"),
        environ=env,
    )
    try:
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as error:
        raise ConfigError(
            f"the in-cluster service account cannot be used ({error}); check that the pod mounts its "
            f"service account token (automountServiceAccountToken) under {service_account_dir}"
        ) from None
    return ApiClient(configuration)
