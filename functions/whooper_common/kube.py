"""A Kubernetes API client from the function's configuration: ``KUBECONFIG`` when set, else the service account.

``kubernetes`` is imported inside :func:`api_client`, not at module import: the
package loads every API model (most of a second), which a function should pay
only when it first talks to the cluster.
"""

from __future__ import annotations

from typing import Any

from whooper_common.config import ConfigError, Env, get_str


def api_client(env: Env) -> Any:
    """A ``kubernetes.client.ApiClient``; ConfigError says which way of connecting failed and why.

    ``KUBECONFIG`` (one path, or several joined with ``:``) wins when set, for
    local runs; otherwise the pod's service account (in-cluster configuration).
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    kubeconfig = get_str(env, "KUBECONFIG")
    configuration = client.Configuration()
    if kubeconfig:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=configuration, persist_config=False
            )
        except (ConfigException, OSError, ValueError) as error:
            raise ConfigError(f"KUBECONFIG={kubeconfig!r} is not usable: {error}") from None
        return client.ApiClient(configuration)
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except ConfigException as error:
        raise ConfigError(
            "no Kubernetes API access: not running in a cluster with a service account "
            f"({error}), and KUBECONFIG is not set"
        ) from None
    return client.ApiClient(configuration)
