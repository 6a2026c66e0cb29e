"""Storage: objects in etcd key order, list snapshots for paging, and continue tokens."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.kube_api.resources import ResourceType
from devstack.kube_api.selectors import Selector
from devstack.kube_api.wire import StatusError, dumps

# How many list snapshots a collection keeps for continue tokens. Older tokens answer
# 410 Expired, as tokens do on a real cluster once etcd compacted their revision.
SNAPSHOTS_KEPT = 16


def encode_continue(revision: int, start: str) -> str:
    # Same content as the API server's token: base64 of {"v", "rv", "start"}.
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        revision, start = decoded["rv"], decoded["start"]
        if decoded.get("v") != "meta.k8s.io/v1" or not isinstance(revision, int) or not isinstance(start, str):
            raise ValueError("unexpected content")
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise StatusError(400, f"continue key is not valid: {error}") from error
    return revision, start


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Stored:
    key: str  # "namespace/name": the order etcd lists in
    item: bytes  # the JSON as it appears in a list's items
    fields: Mapping[str, str]  # values for field selectors
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Snapshot:
    revision: int
    keys: list[str]
    items: list[Stored]


@dataclass
class Page:
    items: list[Stored]
    next_start: str | None  # relative key to continue after, None on the last page
    remaining: int | None


class Revisions:
    """The cluster-wide resourceVersion counter (etcd's revision), shared by all collections."""

    def __init__(self, start: int = 1000) -> None:
        self.current = start

    def next(self) -> int:
        self.current += 1
        return self.current


class Collection:
    """The stored objects of one resource. Not thread-safe: the server holds its lock around every call."""

    def __init__(self, rtype: ResourceType, revisions: Revisions) -> None:
        self.rtype = rtype
        self._revisions = revisions
        self.kind_guessed = False  # True while no CRD or object has told the kind
        self._objects: dict[str, Stored] = {}
        self._current: Snapshot | None = None
        self._history: OrderedDict[int, Snapshot] = OrderedDict()

    def __len__(self) -> int:
        return len(self._objects)

    def put(self, obj: Mapping[str, Any]) -> Stored:
        """Store (or replace) an object; it gets the next resourceVersion."""
        revision = self._revisions.next()
        metadata = {**obj.get("metadata", {}), "resourceVersion": str(revision)}
        key = f"{metadata.get('namespace', '')}/{metadata['name']}"
        if self.rtype.custom:
            body = {**obj, "metadata": metadata}
            item = dumps(body, sort_keys=True)
        else:
            # Built-in list items carry no kind/apiVersion on the wire.
            body = {
                "metadata": metadata,
                **{k: v for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata")},
            }
            item = dumps(body)
        fields = {name: _field_value(body, path) for name, path in self.rtype.selectable.items()}
        stored = Stored(key, item, fields, dict(metadata.get("labels") or {}))
        self._objects[key] = stored
        self._current = None
        return stored

    def put_many(self, objects: Iterable[Mapping[str, Any]]) -> None:
        for obj in objects:
            self.put(obj)

    def remove(self, key: str) -> Stored | None:
        stored = self._objects.pop(key, None)
        if stored is not None:
            self._revisions.next()
            self._current = None
        return stored

    def clear(self) -> None:
        self._objects.clear()
        self._revisions.next()
        self._current = None

    def get(self, key: str) -> Stored | None:
        return self._objects.get(key)

    def full(self, stored: Stored) -> bytes:
        """The object as a single GET returns it: with kind and apiVersion."""
        if self.rtype.custom:
            return stored.item
        return (
            b'{"kind":"%s","apiVersion":"%s",' % (self.rtype.kind.encode(), self.rtype.api_version.encode())
            + stored.item[1:]
        )

    def snapshot(self) -> Snapshot:
        if self._current is None:
            keys = sorted(self._objects)
            self._current = Snapshot(self._revisions.current, keys, [self._objects[k] for k in keys])
            self._history[self._current.revision] = self._current
            while len(self._history) > SNAPSHOTS_KEPT:
                self._history.popitem(last=False)
        return self._current

    def snapshot_at(self, revision: int) -> Snapshot | None:
        return self._history.get(revision)

    def forget_history(self) -> None:
        self._history.clear()
        self._current = None


def read_page(snapshot: Snapshot, prefix: str, start: str, limit: int | None, selector: Selector) -> Page:
    """One page of a list, like the API server reads a key range from etcd."""
    keys = snapshot.keys
    low = bisect.bisect_left(keys, prefix + start)
    high = bisect.bisect_left(keys, prefix[:-1] + chr(ord(prefix[-1]) + 1)) if prefix else len(keys)
    if selector.empty:
        end = high if limit is None else min(high, low + limit)
        more = end < high
        last = keys[end - 1] if more else None
        items = snapshot.items[low:end]
        remaining = high - end if more else None
    else:
        items, position = [], low
        while position < high and (limit is None or len(items) < limit):
            if selector.matches(snapshot.items[position]):
                items.append(snapshot.items[position])
            position += 1
        more = position < high
        last = keys[position - 1] if more else None
        remaining = None
    # The token's start is relative to the listed prefix, with a NUL to start after the last key.
    next_start = last[len(prefix) :] + "\x00" if last is not None else None
    return Page(items, next_start, remaining)
