"""A page of the Kubernetes pod list, read from its JSON text straight into the few fields the series need.

The decoder declares only those fields (name, namespace, creation time, phase,
and per container its name, restart count and waiting/terminated reasons);
msgspec skips everything else (managedFields, specs, conditions, ...) while it
parses, without building Python objects for it. Each pod is then cut down to a
:class:`PodState` record (a few hundred bytes), which is all a run keeps.
"""

from __future__ import annotations

import sys
from datetime import datetime

import msgspec

PHASES = ("Running", "Pending", "Failed", "Succeeded", "Unknown")
_KNOWN_PHASES = frozenset(PHASES)


# gc=False: the kept states hold only strings and numbers, so the cycle collector need not track them;
# tracked, every few hundred of them would start a collection that walks all the pods kept so far.
class ContainerState(msgspec.Struct, frozen=True, gc=False):
    name: str
    restarts: int
    waiting_reason: str | None
    terminated_reason: str | None


class PodState(msgspec.Struct, frozen=True, gc=False):
    namespace: str
    name: str
    phase: str
    pending_since: float | None  # unix time, only for a Pending pod
    containers: tuple[ContainerState, ...]


# The wire shapes, reduced to what is read (gc=False as above: a page makes tens of thousands).
class _Reason(msgspec.Struct, gc=False):
    reason: str | None = None


class _State(msgspec.Struct, gc=False):
    waiting: _Reason | None = None
    terminated: _Reason | None = None


class _ContainerStatus(msgspec.Struct, rename="camel", gc=False):
    name: str = ""
    restart_count: int = 0
    state: _State | None = None
    last_state: _State | None = None


class _Status(msgspec.Struct, rename="camel", gc=False):
    phase: str | None = None
    init_container_statuses: list[_ContainerStatus] | None = None
    container_statuses: list[_ContainerStatus] | None = None


class _Metadata(msgspec.Struct, rename="camel", gc=False):
    name: str = ""
    namespace: str = ""
    creation_timestamp: str | None = None


class _Pod(msgspec.Struct, gc=False):
    metadata: _Metadata | None = None
    status: _Status | None = None


class _ListMetadata(msgspec.Struct, gc=False):
    continue_token: str | None = msgspec.field(default=None, name="continue")


class _PodList(msgspec.Struct, gc=False):
    items: list[_Pod] | None  # required: a body without it is no pod list (null is an empty list)
    metadata: _ListMetadata | None = None


_DECODER = msgspec.json.Decoder(_PodList)
_NO_STATE = _State()


class NotAPodList(ValueError):
    """The body is not a pod list; the message says where it differs (e.g. ``at `$.items[3].status```)."""


def read_page(body: bytes) -> tuple[list[PodState], str | None]:
    """The pods of one page of a pod list and its continue token (None on the last page)."""
    try:
        page = _DECODER.decode(body)
    except msgspec.DecodeError as error:
        raise NotAPodList(str(error)) from None
    token = page.metadata.continue_token if page.metadata else None
    return [_pod_state(pod) for pod in page.items or ()], token or None


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _interned(text: str | None) -> str | None:
    # Reasons and container names repeat across pods: one copy of each is kept.
    return sys.intern(text) if text else None


def _container(status: _ContainerStatus) -> ContainerState:
    state = status.state or _NO_STATE
    last_state = status.last_state or _NO_STATE
    # A container that is terminated now (restartPolicy Never, or between restarts) last terminated for that
    # reason; otherwise the previous termination, in lastState, is the latest one.
    terminated = state.terminated or last_state.terminated
    return ContainerState(
        name=sys.intern(status.name or "unnamed"),
        restarts=status.restart_count,
        waiting_reason=_interned(state.waiting.reason if state.waiting else None),
        terminated_reason=_interned(terminated.reason if terminated else None),
    )


def _pod_state(pod: _Pod) -> PodState:
    metadata = pod.metadata or _Metadata()
    status = pod.status or _Status()
    phase = status.phase if status.phase in _KNOWN_PHASES else "Unknown"
    # Init containers too: a pod stuck in Init:CrashLoopBackOff crash-loops in one of them.
    statuses = [*(status.init_container_statuses or ()), *(status.container_statuses or ())]
    return PodState(
        namespace=sys.intern(metadata.namespace or "default"),
        name=metadata.name or "unnamed",
        phase=sys.intern(phase),
        pending_since=_timestamp(metadata.creation_timestamp) if phase == "Pending" else None,
        containers=tuple(_container(s) for s in statuses),
    )
