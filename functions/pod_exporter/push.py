"""Pushes the whole group to the Pushgateway in one PUT, replacing what the last run pushed.

The group is ``job="whooper-pod-exporter"`` and nothing else: no instance
label, so every replica and every run replaces the same group, and a deleted
pod's series disappear with the next push.
"""

from __future__ import annotations

import urllib.error
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, push_to_gateway

from pod_exporter.failures import ExportFailure

JOB = "whooper-pod-exporter"


def shown_url(url: str) -> str:
    """The URL without any user:password part, fit for logs and answers."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def push_group(url: str, registry: CollectorRegistry, timeout: float) -> None:
    """PUT the registry as the group; :class:`ExportFailure` naming the cause when the Pushgateway does not take it."""
    where = shown_url(url)
    try:
        push_to_gateway(url, job=JOB, registry=registry, grouping_key={}, timeout=timeout)
    except urllib.error.HTTPError as error:
        body = error.read(300).decode(errors="replace").strip()
        raise ExportFailure(
            "pushgateway_rejected",
            502,
            f"the Pushgateway at {where} rejected the push ({error.code} {error.reason}: {body}); "
            "check its log, and that no other job pushes the same metric names with other types",
        ) from error
    except (urllib.error.URLError, OSError) as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, TimeoutError):
            raise ExportFailure(
                "pushgateway_timeout",
                504,
                f"the Pushgateway at {where} did not answer within {timeout:g} s; "
                "check its health and load, or raise PUSHGATEWAY_TIMEOUT_SECONDS",
            ) from error
        raise ExportFailure(
            "pushgateway_unreachable",
            503,
            f"the Pushgateway at {where} is unreachable ({reason}); check PUSHGATEWAY_URL and that it is running",
        ) from error
