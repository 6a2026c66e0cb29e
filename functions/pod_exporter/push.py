"""Pushes the whole group to the Pushgateway in one PUT, replacing what the last run pushed.

The group is ``job="whooper-pod-exporter"`` and nothing else: no instance
label, so every replica and every run replaces the same group, and a deleted
pod's series disappear with the next push.

The body is written while it is sent, one metric family at a time, in a
chunked PUT: ``push_to_gateway`` would first format the whole group as one
string (every line, then joined, then encoded), which at 50,000 pods is three
times a 17 MB body held at once. Each family is still formatted by
``generate_latest``, so the text is exactly what ``push_to_gateway`` sends, and
the request goes through ``urllib.request`` as there, so its errors are the same.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from urllib.parse import quote, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from pod_exporter.failures import ExportFailure

JOB = "whooper-pod-exporter"


def shown_url(url: str) -> str:
    """The URL without any user:password part, fit for logs and answers."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


# Pieces the body is sent in: small enough that a family's text is not copied whole again by the chunk framing.
CHUNK_BYTES = 64 * 1024


class _OneFamily(Collector):
    def __init__(self, family: Metric) -> None:
        self.family = family

    def collect(self) -> Iterable[Metric]:
        return (self.family,)


def exposition(registry: CollectorRegistry) -> Iterator[bytes]:
    """The registry in the text format ``push_to_gateway`` sends, made one family at a time as it is read."""
    for family in registry.collect():
        text = generate_latest(_OneFamily(family))
        for start in range(0, len(text), CHUNK_BYTES):
            yield text[start : start + CHUNK_BYTES]
        del text  # sent: not held while the next family is formatted


def group_url(url: str) -> str:
    """The group's URL, as ``push_to_gateway(url, job=JOB, grouping_key={})`` builds it."""
    return f"{url.rstrip('/')}/metrics/job/{quote(JOB, safe='')}"


def push_group(url: str, registry: CollectorRegistry, timeout: float) -> None:
    """PUT the registry as the group; :class:`ExportFailure` naming the cause when the Pushgateway does not take it."""
    where = shown_url(url)
    # No Content-Length: urllib sends an iterable body with Transfer-Encoding: chunked. The URL is http(s) only
    # (load_config checks PUSHGATEWAY_URL's scheme), so urlopen's file: and custom schemes cannot be reached.
    request = urllib.request.Request(  # noqa: S310
        group_url(url), data=exposition(registry), method="PUT", headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            answer.read()
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
