"""A Kubernetes API client from the environment: ``KUBECONFIG`` for local runs, else the pod's service account.

The ``kubernetes`` package reads ``KUBECONFIG`` from ``os.environ`` when it is
imported, and importing it takes most of a second (its config loaders pull in
``google.auth``), so it is imported on first use, never at import time.
:func:`check_credentials` checks the environment without it, so a function can
refuse a bad configuration when it starts and still answer ``/healthz`` fast;
:class:`LazyApiClient` then makes the client when the first request needs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from whooper_common.config import ConfigError, Env, get_str

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def check_credentials(env: Env, service_account_dir: Path = SERVICE_ACCOUNT_DIR) -> None:
    """:class:`ConfigError` saying what to set when ``env`` gives no way to the cluster; never imports kubernetes.

    With ``KUBECONFIG`` set, at least one of its files (``:``-separated, as
    kubectl reads it) must be readable; otherwise ``KUBERNETES_SERVICE_HOST``/``_PORT``
    must be set and the service account's token and CA mounted and not empty.
    A kubeconfig whose content is wrong is only found when the client is made.
    """
    kubeconfig = get_str(env, "KUBECONFIG")
    if kubeconfig:
        _check_kubeconfig(kubeconfig)
        return
    if not get_str(env, "KUBERNETES_SERVICE_HOST"):
        raise ConfigError(
            "no Kubernetes credentials: set KUBECONFIG to a kubeconfig file for local runs, "
            "or run in a pod whose service account token is mounted (KUBERNETES_SERVICE_HOST is not set)"
        )
    try:
        problem = _service_account_problem(env, service_account_dir)
    except OSError as error:
        problem = str(error)
    if problem:
        raise _service_account_error(problem, service_account_dir)


def _check_kubeconfig(kubeconfig: str) -> None:
    errors: list[str] = []
    for path in filter(None, kubeconfig.split(os.pathsep)):
        try:
            with open(os.path.expanduser(path), "rb"):
                return
        except OSError as error:
            errors.append(f"{error.strerror}: {path!r}")
    raise ConfigError(f"KUBECONFIG={kubeconfig!r} cannot be used: no readable kubeconfig file ({'; '.join(errors)})")


def _service_account_problem(env: Env, service_account_dir: Path) -> str | None:
    """What the kubernetes in-cluster loader would refuse, in its own words; None when it would accept."""
    if not get_str(env, "KUBERNETES_SERVICE_PORT"):
        return "Service host/port is not set."
    token, ca = service_account_dir / "token", service_account_dir / "ca.crt"
    if not token.is_file():
        return "Service token file does not exist."
    if not token.read_bytes().strip():
        return "Token file exists but empty."
    if not ca.is_file():
        return "Service certification file does not exist."
    if not ca.read_bytes():
        return "Cert file exists but empty."
    return None


def _service_account_error(problem: object, service_account_dir: Path) -> ConfigError:
    return ConfigError(
        f"the in-cluster service account cannot be used ({problem}); check that the pod mounts its "
        f"service account token (automountServiceAccountToken) under {service_account_dir}"
    )


def api_client(env: Env, service_account_dir: Path = SERVICE_ACCOUNT_DIR) -> ApiClient:
    """A client for the cluster ``env`` points at; :class:`ConfigError` saying what to set when none is reachable.

    ``KUBECONFIG`` wins when set, as with kubectl; otherwise the in-cluster
    service account (``KUBERNETES_SERVICE_HOST``/``_PORT`` plus the mounted token
    and CA) is used. Requests are not retried inside the client: both callers
    are driven by events that are delivered again (the next PingSource tick, the
    Broker's retries), and a failure that surfaces at once keeps its own cause.
    """
    check_credentials(env, service_account_dir)
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
    loader = incluster_config.InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=str(service_account_dir / "token"),
        cert_filename=str(service_account_dir / "ca.crt"),
        environ=env,
    )
    try:
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as error:
        raise _service_account_error(error, service_account_dir) from None
    return ApiClient(configuration)


class LazyApiClient:
    """The :func:`api_client` for ``env``, made on the first :meth:`get` and then kept (thread-safe).

    A failure is not kept: :meth:`get` raises its :class:`ConfigError` and the
    next call tries again, so a kubeconfig fixed in place is picked up without a
    restart.
    """

    def __init__(
        self,
        env: Env,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        make: Callable[[Env, Path], ApiClient] = api_client,
    ) -> None:
        self._env = dict(env)  # read once, like every other setting, not whatever os.environ holds later
        self._service_account_dir = service_account_dir
        self._make = make
        self._lock = threading.Lock()
        self._client: ApiClient | None = None

    def get(self) -> ApiClient:
        with self._lock:
            if self._client is None:
                self._client = self._make(self._env, self._service_account_dir)
            return self._client
