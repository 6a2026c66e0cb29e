"""Typed models of Alertmanager's webhook payload (version 4), parsed strictly.

Parsing errors name the field that is wrong (``alerts[3].labels``), so the
webhook can answer 400 with a reason the sender can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["firing", "resolved"]
STATUSES: tuple[Status, ...] = ("firing", "resolved")

# Alertmanager writes Go's zero time for "not set" and nanosecond fractions, which Python's parser does not take.
_GO_ZERO_TIME = re.compile(r"^0001-01-01T00:00:00(\.0+)?Z$")
_FRACTION = re.compile(r"\.(\d{6})\d+")


class PayloadError(ValueError):
    """The payload is not a valid Alertmanager notification; ``field`` names where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def _object(data: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise PayloadError(field, f"must be a JSON object, got {type(data).__name__}")
    return data


def _text(value: str, field: str) -> str:
    """JSON may carry unpaired surrogates (``"\\ud800"``), which no email or log encoder can write: refuse them here."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(field, "is not valid Unicode (unpaired surrogate)") from None
    return value


def _string(data: Mapping[str, Any], key: str, field: str, *, required: bool = True) -> str:
    where = f"{field}.{key}" if field else key
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PayloadError(where, "is missing" if value is None else "must be a string")
    return _text(value, where)


def _labels(data: Mapping[str, Any], key: str, field: str) -> dict[str, str]:
    where = f"{field}.{key}" if field else key
    value = data.get(key, {})
    if value is None:
        return {}
    mapping = _object(value, where)
    for name, item in mapping.items():
        _text(name, where)
        if not isinstance(item, str):
            raise PayloadError(f"{where}.{name}", "must be a string")
        _text(item, f"{where}.{name}")
    return dict(mapping)


def parse_time(value: str, field: str) -> datetime | None:
    """RFC 3339 as Alertmanager writes it; Go's zero time is ``None``."""
    if not value or _GO_ZERO_TIME.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r".\1", value))
    except ValueError:
        raise PayloadError(field, f"{value!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise PayloadError(field, f"{value!r} has no time zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past year 9999 in UTC
        raise PayloadError(field, f"{value!r} is out of range") from None


def format_time(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Alert:
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed alert")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "none")

    @property
    def namespace(self) -> str:
        return self.labels.get("namespace", "")

    @property
    def pod(self) -> str:
        return self.labels.get("pod", "")

    def duration_seconds(self, now: datetime) -> float:
        """How long it fired: until it ended if resolved, else until ``now``."""
        end = self.ends_at if self.status == "resolved" and self.ends_at else now
        return max(0.0, (end - self.starts_at).total_seconds())

    @classmethod
    def from_dict(cls, data: Any, field: str = "alert") -> Alert:
        body = _object(data, field)
        status = _string(body, "status", field)
        if status not in STATUSES:
            raise PayloadError(f"{field}.status", f"must be 'firing' or 'resolved', got {status!r}")
        starts_at = parse_time(_string(body, "startsAt", field), f"{field}.startsAt")
        if starts_at is None:
            raise PayloadError(f"{field}.startsAt", "is not set")
        return cls(
            status=status,  # checked against STATUSES above
            labels=_labels(body, "labels", field),
            annotations=_labels(body, "annotations", field),
            starts_at=starts_at,
            ends_at=parse_time(_string(body, "endsAt", field, required=False), f"{field}.endsAt"),
            generator_url=_string(body, "generatorURL", field, required=False),
            fingerprint=_string(body, "fingerprint", field),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": format_time(self.starts_at),
            "endsAt": format_time(self.ends_at),
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class Notification:
    version: str
    group_key: str
    truncated_alerts: int
    status: Status
    receiver: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    alerts: tuple[Alert, ...]

    @classmethod
    def from_dict(cls, data: Any) -> Notification:
        body = _object(data, "payload")
        version = _string(body, "version", "")
        if version != "4":
            raise PayloadError("version", f"must be '4' (Alertmanager webhook version 4), got {version!r}")
        status = _string(body, "status", "")
        if status not in STATUSES:
            raise PayloadError("status", f"must be 'firing' or 'resolved', got {status!r}")
        raw_alerts = body.get("alerts")
        if not isinstance(raw_alerts, list):
            raise PayloadError("alerts", "must be a list" if raw_alerts is not None else "is missing")
        if not raw_alerts:
            raise PayloadError("alerts", "is empty: a notification carries at least one alert")
        truncated = body.get("truncatedAlerts", 0)
        if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
            raise PayloadError("truncatedAlerts", "must be a non-negative integer")
        return cls(
            version=version,
            group_key=_string(body, "groupKey", "", required=False),
            truncated_alerts=truncated,
            status=status,  # checked against STATUSES above
            receiver=_string(body, "receiver", "", required=False),
            group_labels=_labels(body, "groupLabels", ""),
            common_labels=_labels(body, "commonLabels", ""),
            common_annotations=_labels(body, "commonAnnotations", ""),
            external_url=_string(body, "externalURL", "", required=False),
            alerts=tuple(Alert.from_dict(item, f"alerts[{i}]") for i, item in enumerate(raw_alerts)),
        )
