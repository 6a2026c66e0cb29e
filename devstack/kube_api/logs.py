"""Pod logs: container choice, waiting and previous containers, ``tailLines`` and ``limitBytes``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devstack.kube_api.routing import Route
from devstack.kube_api.wire import StatusError
from devstack.standin import RecordedRequest, Response

# (namespace, pod, container or None for any, previous)
LogKey = tuple[str, str, str | None, bool]


def pod_log(pod: Mapping[str, Any], logs: Mapping[LogKey, str], request: RecordedRequest, route: Route) -> Response:
    """The answer to ``GET .../pods/NAME/log`` from the pod and the log texts set for it."""
    name = route.name or ""
    containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
    container = request.param("container")
    if not container:
        if len(containers) > 1:
            raise StatusError(
                400, f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
            )
        container = containers[0] if containers else None
    elif containers and container not in containers:
        raise StatusError(400, f"container {container} is not valid for pod {name}")
    previous = request.param("previous") == "true"
    status = next((s for s in pod.get("status", {}).get("containerStatuses", []) if s["name"] == container), None)
    if status is not None:
        waiting, last = status["state"].get("waiting"), status.get("lastState", {}).get("terminated")
        if previous and last is None:
            raise StatusError(400, f'previous terminated container "{container}" in pod "{name}" not found')
        if not previous and waiting and last is None:
            reason = {
                "ImagePullBackOff": "trying and failing to pull image",
                "ErrImagePull": "image can't be pulled",
            }.get(waiting.get("reason", ""), waiting.get("reason", ""))
            raise StatusError(400, f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    namespace = route.namespace or ""
    text = logs.get((namespace, name, container, previous), logs.get((namespace, name, None, previous), ""))
    tail = _non_negative(request.param("tailLines"), "tailLines", minimum=0)
    limit = _non_negative(request.param("limitBytes"), "limitBytes", minimum=1)
    if tail is not None:
        # The kubelet cuts the tail first, then limitBytes from its start.
        text = "".join(text.splitlines(keepends=True)[-tail:]) if tail else ""
    data = text.encode()
    return Response(200, data[:limit] if limit is not None else data, "text/plain")


def _non_negative(text: str | None, name: str, *, minimum: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError as error:
        raise StatusError(400, f"{name}: Invalid value: {text!r}: must be an integer") from error
    if value < minimum:
        raise StatusError(422, f"{name}: Invalid value: {value}: must be greater than or equal to {minimum}")
    return value
