"""pod_exporter's configuration, read once from the environment when the app is built."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from whooper_common.config import ConfigError, Env, get_float, get_int, get_list, require_str
from whooper_common.kube import LazyApiClient, check_credentials

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# A namespace name is a DNS-1123 label.
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class ExporterConfig:
    pushgateway_url: str
    namespaces: tuple[str, ...]  # empty: all namespaces
    kube: LazyApiClient
    page_size: int = 500
    kube_timeout: float = 10.0
    push_timeout: float = 10.0

    @property
    def api(self) -> ApiClient:
        """The Kubernetes API client, made on first use; :class:`ConfigError` when the kubeconfig turns out unusable."""
        return self.kube.get()


def load_config(env: Env) -> ExporterConfig:
    """Every setting checked here, so a bad one stops the function at start with a message naming it."""
    url = require_str(
        env, "PUSHGATEWAY_URL", "set it to the Pushgateway's URL, e.g. http://pushgateway.monitoring:9091"
    )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"PUSHGATEWAY_URL={url!r} is not an http(s) URL, e.g. http://pushgateway.monitoring:9091")
    if parts.username or parts.password:
        # The push sends no basic auth from the URL, and a URL with a password would end up in logs.
        raise ConfigError("PUSHGATEWAY_URL must not carry a user or password; give the Pushgateway's plain URL")
    namespaces = tuple(dict.fromkeys(get_list(env, "WATCH_NAMESPACES")))
    for namespace in namespaces:
        if not _NAMESPACE.match(namespace):
            raise ConfigError(f"WATCH_NAMESPACES holds {namespace!r}, which is not a namespace name")
    # The credentials are checked here without the kubernetes package, whose import (most of a second) would
    # delay the first /healthz; the client itself is made by the first run.
    check_credentials(env)
    return ExporterConfig(
        pushgateway_url=url,
        namespaces=namespaces,
        kube=LazyApiClient(env),
        page_size=get_int(env, "POD_PAGE_SIZE", 500, minimum=1),
        kube_timeout=get_float(env, "KUBE_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        push_timeout=get_float(env, "PUSHGATEWAY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
    )
