"""The ``Status`` answers of injected failures, worded as the API server words them."""

from __future__ import annotations

from devstack.kube_api.routing import Route
from devstack.kube_api.wire import CONTINUE_EXPIRED, json_response, reason_phrase, status_body
from devstack.standin import Fault, JsonObject, Response


def fault_response(fault: Fault, route: Route | None, path: str, user: str, headers: dict[str, str]) -> Response:
    """The answer to a request an injected failure matched: a ``Status`` like the real one for that code."""
    code = fault.status
    details: JsonObject | None = None
    message = fault.message
    if route is not None:
        rtype = route.collection.rtype
        details = {
            **({"name": route.name} if route.name else {}),
            **({"group": rtype.group} if rtype.group else {}),
        }
        details["kind"] = rtype.plural
    if message is None:
        if code == 403:
            message = _forbidden_message(route, path, user)
        elif code == 404 and route is not None and route.name:
            message = f'{route.collection.rtype.qualified} "{route.name}" not found'
        elif code == 409 and route is not None:
            message = (
                f'Operation cannot be fulfilled on {route.collection.rtype.qualified} "{route.name or ""}": '
                "the object has been modified; please apply your changes to the latest version and try again"
            )
        else:
            message = {
                400: "the server rejected our request for an unknown reason",
                401: "Unauthorized",
                404: "the server could not find the requested resource",
                410: CONTINUE_EXPIRED,
                429: "Too many requests, please try again later.",
                500: "Internal error occurred: etcdserver: request timed out",
                503: "the server is currently unable to handle the request",
                504: "Timeout: request did not complete within requested timeout - context deadline exceeded",
            }.get(code) or reason_phrase(code)
    if code == 500:
        details = {**(details or {}), "causes": [{"message": message.removeprefix("Internal error occurred: ")}]}
    body = status_body(code, message, details=details)
    return json_response(code, body, {**headers, **fault.headers})


def _forbidden_message(route: Route | None, path: str, user: str) -> str:
    """What RBAC answers when ``user`` may not do what the request asks."""
    if route is None:
        return f'forbidden: User "{user}" cannot get path "{path}"'
    rtype = route.collection.rtype
    subject = f'{rtype.qualified} "{route.name}"' if route.name else rtype.qualified
    resource = f"{rtype.plural}/{route.subresource}" if route.subresource else rtype.plural
    scope = f'in the namespace "{route.namespace}"' if route.namespace else "at the cluster scope"
    return (
        f'{subject} is forbidden: User "{user}" cannot {route.verb} resource "{resource}" '
        f'in API group "{rtype.group}" {scope}'
    )
