"""Calls to the Kubernetes API with failures sorted into "try again later" and "the API said no".

The kubernetes client raises ``ApiException`` for HTTP answers and urllib3
errors for a server it cannot reach; the function answers the first kind by
status and every transient one with 503, so the Broker redelivers the event.
The client (and the heavy ``kubernetes`` package) is built on first use, so a
cold start that never reaches the cluster does not pay for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from whooper_common.config import Env
from whooper_common.kube import api_client

# Besides 5xx: 429 is the API server's back-pressure, 401/403 a credential or RBAC fault an operator must fix;
# answering them with 503 keeps the event on the Broker's retry path (and in its dead-letter sink) meanwhile.
_TRANSIENT_4XX = frozenset({401, 403, 408, 429})
_MAX_REASON = 300


class KubeUnavailable(Exception):
    """The API could not answer now (unreachable, timeout, 5xx, throttled, not allowed); worth retrying later."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, 0 when there was no answer


class KubeRequestError(Exception):
    """The API answered the request with a definite 4xx (404 missing, 409 exists, 422 invalid...)."""

    def __init__(self, what: str, status: int, reason: str) -> None:
        super().__init__(f"Kubernetes API refused to {what}: {status} {reason}")
        self.status = status
        self.reason = reason


def _reason(error: Any) -> str:
    """The API's ``Status.message`` when the body is a Status object, else the HTTP reason."""
    body = getattr(error, "body", None)
    try:
        message = json.loads(body)["message"] if body else ""
    except (ValueError, KeyError, TypeError):
        message = ""
    return str(message or getattr(error, "reason", "") or error)[:_MAX_REASON]


def call(what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``method(*args, **kwargs)`` with its failures turned into KubeUnavailable or KubeRequestError."""
    import urllib3  # both loaded with the client already; importing them at start would slow a cold start
    from kubernetes.client.exceptions import ApiException

    try:
        return method(*args, **kwargs)
    except ApiException as error:
        status = int(error.status or 0)
        if status == 0 or status >= 500 or status in _TRANSIENT_4XX:
            answer = f"{status or 'no answer'} {_reason(error)}"
            raise KubeUnavailable(f"Kubernetes API failed to {what}: {answer}", status) from None
        raise KubeRequestError(what, status, _reason(error)) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise KubeUnavailable(f"Kubernetes API unreachable to {what}: {type(error).__name__}") from None


class LazyApis:
    """The CustomObjectsApi and CoreV1Api over one ApiClient, made on first use (thread-safe)."""

    def __init__(self, env: Env, make_client: Callable[[Env], Any] = api_client) -> None:
        self._env = env
        self._make_client = make_client
        self._lock = threading.Lock()
        self._apis: tuple[Any, Any] | None = None

    def _get(self) -> tuple[Any, Any]:
        with self._lock:
            if self._apis is None:
                from kubernetes import client  # the heavy import happens here, once

                api = self._make_client(self._env)
                self._apis = (client.CustomObjectsApi(api), client.CoreV1Api(api))
            return self._apis

    def custom_objects(self) -> Any:
        return self._get()[0]

    def core(self) -> Any:
        return self._get()[1]
