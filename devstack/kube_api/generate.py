"""Many realistic pods at once, for the CLI and the benchmarks."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from devstack.kube_api.naming import SAFE_ALPHABET, safe_id
from devstack.kube_api.pods import make_pod
from devstack.standin import JsonObject

# Mix of pods the CLI and the benchmarks serve: (weight, phase, make_pod keyword arguments).
_POD_MIX: tuple[tuple[int, str, JsonObject], ...] = (
    (80, "Running", {}),
    (4, "Running", {"waiting_reason": "CrashLoopBackOff", "terminated_reason": "Error", "restarts": 7}),
    (2, "Running", {"waiting_reason": "CrashLoopBackOff", "terminated_reason": "OOMKilled", "restarts": 4}),
    (2, "Running", {"ready": False}),
    (1, "Running", {"terminated_reason": "OOMKilled", "restarts": 1}),
    (3, "Pending", {}),
    (2, "Pending", {"waiting_reason": "ImagePullBackOff"}),
    (1, "Pending", {"waiting_reason": "ErrImagePull"}),
    (1, "Pending", {"node": None}),
    (2, "Succeeded", {"owner_kind": "Job"}),
    (1, "Failed", {"owner_kind": "Job", "terminated_reason": "Error"}),
    (1, "Failed", {"terminated_reason": "Evicted"}),
)
_APPS = ("checkout", "cart", "payments", "search", "catalog", "auth", "notifier", "ingest", "reports", "gateway")


def _unique_suffix(index: int) -> str:
    """A 5-character name suffix that differs for every index below 27**5 (a bijection, so no collisions)."""
    number = (index * 7919 + 12345) % len(SAFE_ALPHABET) ** 5
    digits = []
    for _ in range(5):
        number, digit = divmod(number, len(SAFE_ALPHABET))
        digits.append(SAFE_ALPHABET[digit])
    return "".join(digits)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while creating pods in bulk.

    Building and serialising a pod allocates thousands of containers, which triggers
    collections that walk every live object for nothing; pausing roughly halves the
    time to store 50,000 pods. The previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate_pods(
    count: int, *, namespaces: int = 20, nodes: int = 30, with_managed_fields: bool = True
) -> Iterator[JsonObject]:
    """``count`` realistic pods spread over namespaces and nodes, mostly healthy, some in trouble.

    Lazy, so ``server.set_pods(generate_pods(50_000))`` never holds all the dicts at once
    (they take about four times the memory of their JSON). Deterministic apart from
    timestamps: the same ``count`` gives the same names, phases and reasons.
    """
    slots = [(phase, kwargs) for weight, phase, kwargs in _POD_MIX for _ in range(weight)]
    now = datetime.now(UTC).replace(microsecond=0)
    for index in range(count):
        yield _generated_pod(index, slots, now, namespaces, nodes, with_managed_fields)


def _generated_pod(
    index: int,
    slots: Sequence[tuple[str, JsonObject]],
    now: datetime,
    namespaces: int,
    nodes: int,
    with_managed_fields: bool,
) -> JsonObject:
    phase, kwargs = slots[(index * 37) % len(slots)]  # 37 is coprime with 100 slots: every mix in turn
    namespace = f"team-{index % namespaces:02d}"
    app = _APPS[(index // namespaces) % len(_APPS)]
    suffix = _unique_suffix(index)
    if kwargs.get("owner_kind") == "Job":
        name = f"{app}-job-{index}-{suffix}"
    else:
        name = f"{app}-{safe_id(10, namespace, app)}-{suffix}"
    options: JsonObject = {"node": f"node-{index % nodes:02d}", **kwargs}
    created = now - timedelta(minutes=10 + index % 5000)
    return make_pod(name, namespace, phase, created=created, with_managed_fields=with_managed_fields, **options)
