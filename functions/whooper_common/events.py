"""CloudEvents between the functions: types, ids, parsing requests and sending in binary mode.

Types are reverse-DNS (``dev.whooper.*``) and ``source`` names the function.
An alert event's id is derived from the alert's fingerprint, startsAt and
status, so a repeated notification yields the same id and receivers can drop it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import flask
from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent, from_http

from whooper_common.alertmanager import Alert, Notification, format_time
from whooper_common.config import ConfigError, Env, get_str

ALERT_FIRING = "dev.whooper.alert.firing"
ALERT_RESOLVED = "dev.whooper.alert.resolved"
INCIDENT_OPENED = "dev.whooper.incident.opened"
INCIDENT_RESOLVED = "dev.whooper.incident.resolved"
PING = "dev.knative.sources.ping"
ALERT_TYPES = {"firing": ALERT_FIRING, "resolved": ALERT_RESOLVED}
SPECVERSION = "1.0"
_PLAIN_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")


class EventError(ValueError):
    """A request that is not a valid CloudEvent; the message says why."""


def source(function: str) -> str:
    return f"/whooper/functions/{function}"


def alert_event_id(alert: Alert) -> str:
    key = f"{alert.fingerprint}/{format_time(alert.starts_at)}/{alert.status}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def alert_event_data(alert: Alert, notification: Notification) -> dict[str, Any]:
    """One alert as Alertmanager sent it, plus where it came from (design.md's event contract)."""
    return {
        **alert.to_dict(),
        "receiver": notification.receiver,
        "groupKey": notification.group_key,
        "externalURL": notification.external_url,
    }


def alert_event_attributes(alert: Alert, function: str) -> dict[str, str]:
    """The context attributes of an alert's event (``specversion`` aside, which is always 1.0)."""
    return {
        "type": ALERT_TYPES[alert.status],
        "source": source(function),
        "id": alert_event_id(alert),
        "subject": alert.name,
        "time": format_time(alert.ends_at if alert.status == "resolved" else alert.starts_at),
        "datacontenttype": "application/json",
    }


def alert_event(alert: Alert, notification: Notification, function: str) -> CloudEvent:
    return CloudEvent(alert_event_attributes(alert, function), alert_event_data(alert, notification))


def parse_overrides(env: Env) -> dict[str, str]:
    """``K_CE_OVERRIDES`` as Knative's SinkBinding writes it: ``{"extensions": {"name": "value"}}``."""
    raw = get_str(env, "K_CE_OVERRIDES")
    if not raw:
        return {}
    try:
        extensions = json.loads(raw).get("extensions", {})
    except (ValueError, AttributeError):
        raise ConfigError('K_CE_OVERRIDES is not JSON of the form {"extensions": {"name": "value"}}') from None
    if not isinstance(extensions, dict) or not all(isinstance(v, str) for v in extensions.values()):
        raise ConfigError("K_CE_OVERRIDES extensions must map names to strings")
    return extensions


def to_binary_request(event: CloudEvent, overrides: Mapping[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    """Headers and body of the event in binary content mode, with the sink binding's extensions applied."""
    for name, value in (overrides or {}).items():
        event[name] = value
    headers, body = to_binary(event)
    return headers, body


def _header_value(value: str) -> str:
    # Printable ASCII goes as it is, as the SDK's to_binary writes it. Anything else could not be sent in a
    # header at all (CR/LF, non-Latin-1), so it is percent-encoded as the CloudEvents HTTP binding prescribes.
    if _PLAIN_HEADER_VALUE.fullmatch(value):
        return value
    return quote(value, safe="!#$&'()*+,/:;<=>?@[\\]^_`{|}~")


def binary_headers(attributes: Mapping[str, str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The binary-mode headers of an event with these attributes and the sink binding's extensions.

    What :func:`to_binary_request` writes, without building a CloudEvent and
    converting it through the SDK, which costs more than the POST itself.
    """
    headers = {"ce-specversion": SPECVERSION}
    for name, value in {**attributes, **(overrides or {})}.items():
        if name == "datacontenttype":
            headers["content-type"] = value
        else:
            headers[f"ce-{name}"] = _header_value(value)
    return headers


def binary_request(
    attributes: Mapping[str, str], data: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and JSON body of an event in binary content mode (``datacontenttype`` must be JSON)."""
    return binary_headers(attributes, overrides), json.dumps(data, separators=(",", ":")).encode()


def from_request(request: flask.Request) -> CloudEvent:
    """Parse a binary- or structured-mode CloudEvent; raise EventError naming what is wrong."""
    try:
        return from_http(dict(request.headers), request.get_data())
    except GenericException as error:
        raise EventError(f"not a valid CloudEvent: {error}") from None
