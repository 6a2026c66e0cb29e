"""What the cluster says about the pod an alert names: its recent events and the last lines of its logs.

Bounded on purpose (lines, bytes, events): the context goes into a prompt and
an email, and a chatty pod must not make either huge. Everything is redacted
as it is read, so no later step can leak what a log line carried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from incident_report.kubeapi import KubeRequestError, KubeUnavailable, call
from incident_report.redact import redact
from whooper_common.alertmanager import Alert, format_time

MAX_LINE_CHARS = 1000  # one runaway line (a dumped payload) is cut, not allowed to fill the byte budget alone
_MAX_CHAR_BYTES = 4  # UTF-8
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Limits:
    log_lines: int = 50
    log_bytes: int = 8192
    events: int = 10
    timeout: float = 10.0


@dataclass(frozen=True)
class PodEvent:
    time: str
    type: str  # Normal or Warning
    reason: str
    message: str
    count: int

    def line(self) -> str:
        repeated = f" (x{self.count})" if self.count > 1 else ""
        return f"{self.time} {self.type} {self.reason}: {self.message}{repeated}"


@dataclass(frozen=True)
class Context:
    namespace: str = ""
    pod: str = ""
    container: str = ""
    events: tuple[PodEvent, ...] = ()
    log_lines: tuple[str, ...] = ()
    log_from_previous: bool = False  # the log is the last terminated container's (it crashed)
    log_truncated: bool = False
    notes: tuple[str, ...] = field(default=())  # what could not be read, and why

    @property
    def has_pod(self) -> bool:
        return bool(self.pod)


def _event_time(event: Any) -> datetime | None:
    stamp: datetime | None = event.last_timestamp or event.event_time or event.first_timestamp
    return stamp or event.metadata.creation_timestamp


def _pod_event(event: Any) -> PodEvent:
    stamp = _event_time(event)
    return PodEvent(
        time=format_time(stamp) if stamp else "",
        type=str(event.type or ""),
        reason=redact(str(event.reason or "")),
        message=redact(" ".join(str(event.message or "").split()))[:MAX_LINE_CHARS],
        count=int(event.count or 1),
    )


def bound_log(raw: bytes, max_lines: int, max_bytes: int) -> tuple[tuple[str, ...], bool]:
    """The last ``max_lines`` lines that fit in ``max_bytes`` (redacted), and whether anything was cut."""
    # Redacted as a whole first: a PEM block or a multi-line secret is only recognisable across lines.
    lines = redact(raw.decode("utf-8", errors="replace")).splitlines()
    truncated = len(lines) > max_lines
    lines = lines[-max_lines:] if max_lines else []
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        too_long = len(line) > MAX_LINE_CHARS
        cut = line[:MAX_LINE_CHARS] + " …" if too_long else line
        size += len(cut.encode()) + 1
        if size > max_bytes:
            truncated = True
            break
        kept.append(cut)
        truncated = truncated or too_long
    return tuple(reversed(kept)), truncated


def _forbidden(error: KubeUnavailable, notes: list[str], what: str) -> None:
    """A 403 on context is a note (the report still goes out); any other unavailability propagates."""
    if error.status != 403:
        raise error
    notes.append(f"{what} not readable: forbidden (the incident-report role lacks it)")


def _pick_container(pod: Any, wanted: str) -> tuple[str, bool]:
    """The container to read (the alert's, else the one restarting most) and whether its previous run is the one."""
    statuses = list(pod.status.container_statuses or []) if pod is not None and pod.status else []
    names = [c.name for c in (pod.spec.containers if pod is not None and pod.spec else [])]
    chosen = wanted if wanted in names else ""
    if not chosen and statuses:
        chosen = max(statuses, key=lambda s: s.restart_count or 0).name
    if not chosen and names:
        chosen = names[0]
    for status in statuses:
        if status.name == chosen:
            crashed = (status.restart_count or 0) > 0 and not (status.state and status.state.running)
            return chosen, crashed
    return chosen, False


class ContextReader:
    """Reads a pod's events and logs through CoreV1Api."""

    def __init__(self, core: Any, limits: Limits) -> None:
        self._core = core
        self.limits = limits

    def for_alert(self, alert: Alert) -> Context:
        """The context of the alert's pod; an alert naming no pod gets none. KubeUnavailable propagates."""
        namespace, pod_name = alert.namespace, alert.pod
        if not (namespace and pod_name):
            return Context()
        notes: list[str] = []
        pod, gone = self._read_pod(namespace, pod_name, notes)
        events = self._events(namespace, pod_name, notes)
        container, previous = _pick_container(pod, alert.labels.get("container", ""))
        lines: tuple[str, ...] = ()
        truncated = False
        if not gone:  # a deleted pod has no logs to read; its events outlive it
            lines, truncated, previous = self._logs(namespace, pod_name, container, previous, notes)
        return Context(namespace, pod_name, container, events, lines, previous, truncated, tuple(notes))

    def _read_pod(self, namespace: str, name: str, notes: list[str]) -> tuple[Any, bool]:
        """The pod (None when it cannot be read) and whether it is gone (404)."""
        try:
            pod = call(
                f"read pod {namespace}/{name}",
                self._core.read_namespaced_pod,
                name,
                namespace,
                _request_timeout=self.limits.timeout,
            )
        except KubeRequestError as error:
            gone = error.status == 404
            notes.append(f"pod {name} no longer exists" if gone else f"pod not readable: {redact(error.reason)}")
            return None, gone
        except KubeUnavailable as error:
            _forbidden(error, notes, "pod")
            return None, False
        return pod, False

    def _events(self, namespace: str, name: str, notes: list[str]) -> tuple[PodEvent, ...]:
        try:
            listed = call(
                f"list events of pod {namespace}/{name}",
                self._core.list_namespaced_event,
                namespace,
                field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}",
                _request_timeout=self.limits.timeout,
            )
        except KubeRequestError as error:
            notes.append(f"events not readable: {redact(error.reason)}")
            return ()
        except KubeUnavailable as error:
            _forbidden(error, notes, "events")
            return ()
        items = sorted(listed.items or [], key=lambda e: _event_time(e) or _EPOCH)
        return tuple(_pod_event(e) for e in items[-self.limits.events :]) if self.limits.events else ()

    def _logs(
        self, namespace: str, name: str, container: str, previous: bool, notes: list[str]
    ) -> tuple[tuple[str, ...], bool, bool]:
        # The server cuts limitBytes from the start of the tail, so it is only a memory guard, sized to hold the
        # whole tail of ordinary lines; the byte bound that matters is applied here, from the end.
        options: dict[str, Any] = {
            "tail_lines": self.limits.log_lines,
            "limit_bytes": max(self.limits.log_bytes, self.limits.log_lines * (MAX_LINE_CHARS + 1) * _MAX_CHAR_BYTES),
            "_preload_content": False,  # raw bytes: the client would otherwise re-parse JSON log lines
            "_request_timeout": self.limits.timeout,
        }
        if container:
            options["container"] = container
        attempts = [True, False] if previous else [False]
        for use_previous in attempts:
            try:
                response = call(
                    f"read logs of pod {namespace}/{name}",
                    self._core.read_namespaced_pod_log,
                    name,
                    namespace,
                    previous=use_previous,
                    **options,
                )
            except KubeRequestError as error:
                if use_previous and error.status == 400:
                    continue  # no previous container after all; read the current one
                notes.append(f"logs not readable: {redact(error.reason)}")
                return (), False, False
            except KubeUnavailable as error:
                _forbidden(error, notes, "logs")
                return (), False, False
            lines, truncated = bound_log(response.data, self.limits.log_lines, self.limits.log_bytes)
            return lines, truncated, use_previous
        return (), False, False
