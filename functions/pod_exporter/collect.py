"""Lists pods through the kubernetes client as raw JSON pages and keeps only what the series need.

The typed models of the kubernetes client cost milliseconds and kilobytes per
pod; each page is taken as raw JSON and read straight into small
:class:`~pod_exporter.pods.PodState` records, so a run's memory is one page's
text plus a few hundred bytes per pod. The pages are requested through the
generic ``ApiClient`` (``param_serialize`` and ``call_api``, what the typed
``CoreV1Api`` calls underneath) rather than ``CoreV1Api`` itself, whose import
alone costs about 22 MB for methods and models this never uses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pod_exporter.failures import ExportFailure
from pod_exporter.pods import NotAPodList, PodState, read_page

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger("whooper.pod_exporter")

RBAC_HINT = (
    "check the RBAC rule that lets the pod-exporter ServiceAccount list pods "
    '(apiGroups [""], resources ["pods"], verbs ["list"]): a ClusterRole and ClusterRoleBinding when '
    "WATCH_NAMESPACES is empty, otherwise a Role and RoleBinding in each watched namespace"
)


@dataclass(frozen=True)
class Listing:
    pods: list[PodState]
    pages: int
    restarts: int  # lists started again after their continue token expired (410 Gone)


def list_pods(api: ApiClient, namespaces: Sequence[str], page_size: int, timeout: float) -> Listing:
    """Every pod of ``namespaces`` (all namespaces when empty), page by page; :class:`ExportFailure` otherwise."""
    pods: list[PodState] = []
    pages = restarts = 0
    scopes: Sequence[str | None] = namespaces or [None]  # None: one list over all namespaces
    for namespace in scopes:
        scope_pods, scope_pages, scope_restarts = _list_scope(api, namespace, page_size, timeout)
        pods.extend(scope_pods)
        pages += scope_pages
        restarts += scope_restarts
    return Listing(pods=pods, pages=pages, restarts=restarts)


def _list_scope(
    api: ApiClient, namespace: str | None, page_size: int, timeout: float
) -> tuple[list[PodState], int, int]:
    scope = f"in namespace {namespace!r}" if namespace else "in all namespaces"
    pages = 0
    for attempt in (1, 2):
        pods: list[PodState] = []
        token: str | None = None
        try:
            while True:
                page_pods, token = _read_page(api, namespace, page_size, token, timeout, scope)
                pages += 1
                pods.extend(page_pods)
                if not token:
                    return pods, pages, attempt - 1
        except Exception as error:
            if _status(error) == 410 and attempt == 1:
                # The continue token expired (the list took longer than the API server keeps its snapshot):
                # start again from the first page so the pushed group is one consistent list.
                log.warning("pod list %s expired after %d page(s); listing again from the start", scope, pages)
                continue
            failure = _failure(error, api, scope, timeout)
            if failure is None:
                raise
            raise failure from error
    raise AssertionError("unreachable: the second attempt returns or raises")


def _get_pods(api: ApiClient, namespace: str | None, page_size: int, token: str | None, timeout: float) -> bytes:
    """The body of one ``GET .../pods`` page; ``ApiException`` for any answer but 2xx, as ``CoreV1Api`` raises it."""
    from kubernetes.client.exceptions import ApiException

    query: list[tuple[str, Any]] = [("limit", page_size)]
    if token:
        query.append(("continue", token))
    request = api.param_serialize(
        method="GET",
        resource_path="/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods",
        path_params={"namespace": namespace} if namespace else None,
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*request, _request_timeout=(timeout, timeout))
    try:
        body: bytes = response.read()  # type: ignore[no-untyped-call]
    finally:
        response.response.release_conn()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    return body


def _read_page(
    api: ApiClient, namespace: str | None, page_size: int, token: str | None, timeout: float, scope: str
) -> tuple[list[PodState], str | None]:
    """One page of the list: its pods cut down to what the series need, and the continue token (None at the end)."""
    body = _get_pods(api, namespace, page_size, token, timeout)
    try:
        return read_page(body)
    except NotAPodList as error:
        raise ExportFailure(
            "kubernetes_error",
            502,
            f"the Kubernetes API answered a request for pods {scope} with no pod list ({error})",
        ) from None


def _status(error: Exception) -> int | None:
    from kubernetes.client.exceptions import ApiException

    return error.status if isinstance(error, ApiException) else None


def _api_message(body: Any) -> str:
    """The ``message`` of a Kubernetes Status answer (e.g. 'pods is forbidden: User ... cannot list ...')."""
    try:
        message = json.loads(body).get("message")
    except (TypeError, ValueError, AttributeError):
        return ""
    return message if isinstance(message, str) else ""


def _failure(error: Exception, api: ApiClient, scope: str, timeout: float) -> ExportFailure | None:
    """The failure a listing error means; None for an error that is a bug here, not a fault out there."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import NewConnectionError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    if isinstance(error, ExportFailure):
        return error
    host = api.configuration.host
    if isinstance(error, ApiException) and error.status:
        detail = _api_message(error.body)
        detail = f": {detail}" if detail else ""
        if error.status == 401:
            return ExportFailure(
                "kubernetes_unauthorized",
                502,
                f"the Kubernetes API at {host} refused the credentials (401 Unauthorized) listing pods {scope}; "
                "check the service account token is mounted and valid (or the KUBECONFIG user, for local runs)",
            )
        if error.status == 403:
            return ExportFailure(
                "kubernetes_forbidden",
                502,
                f"the Kubernetes API forbade listing pods {scope} (403 Forbidden{detail}); {RBAC_HINT}",
            )
        if error.status == 410:
            return ExportFailure(
                "kubernetes_list_expired",
                503,
                f"the pod list {scope} expired (410 Gone) twice in one run; the API server dropped the list "
                "snapshot before the pages were read: check the API server's load, or raise POD_PAGE_SIZE",
            )
        return ExportFailure(
            "kubernetes_error",
            502,
            f"the Kubernetes API at {host} answered {error.status} {error.reason} listing pods {scope}{detail}",
        )
    if isinstance(error, Urllib3Timeout) and not isinstance(error, NewConnectionError):
        return ExportFailure(
            "kubernetes_timeout",
            504,
            f"the Kubernetes API at {host} did not answer within {timeout:g} s listing pods {scope}; "
            "check the API server's health and load, or raise KUBE_TIMEOUT_SECONDS or lower POD_PAGE_SIZE",
        )
    if isinstance(error, Urllib3Error | OSError | ApiException):
        reason = getattr(error, "reason", None) or error
        return ExportFailure(
            "kubernetes_unreachable",
            503,
            f"the Kubernetes API at {host} is unreachable listing pods {scope} ({reason}); "
            "check the API server address (KUBECONFIG, or KUBERNETES_SERVICE_HOST in a cluster), "
            "network policies and TLS",
        )
    return None
