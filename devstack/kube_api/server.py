"""The stand-in API server: its state, the routes it serves and how it answers them."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devstack.kube_api.custom import create_object, parse_object, parse_patch, patch_object
from devstack.kube_api.faults import fault_response
from devstack.kube_api.generate import gc_paused
from devstack.kube_api.logs import LogKey, pod_log
from devstack.kube_api.resources import EVENTS, META_FIELDS, PODS, ResourceType
from devstack.kube_api.routing import CORE_PATH, CUSTOM_PATH, VERBS, Route
from devstack.kube_api.selectors import parse_selectors
from devstack.kube_api.store import Collection, Revisions, decode_continue, encode_continue, read_page
from devstack.kube_api.wire import CONTINUE_INCONSISTENT, StatusError, dumps, json_response, status_body
from devstack.standin import Fault, JsonObject, RecordedRequest, Response, StandinServer

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger("devstack.kube_api")

DEFAULT_TOKEN = "devstack-token"  # noqa: S105 - a stand-in's test credential, not a secret
DEFAULT_USER = "system:serviceaccount:whooper:pod-exporter"


class KubeApiServer(StandinServer):
    """The stand-in API server. Start it, point the ``kubernetes`` client at it, change its state from the test."""

    title = "Kubernetes API stand-in"
    thread_name = "kube-api-standin"
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
    log = log

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        user: str = DEFAULT_USER,
    ) -> None:
        super().__init__(port=port, host=host)
        self.token = token
        self.user = user  # the identity that 403 messages name
        self._lock = threading.RLock()
        self._revisions = Revisions()
        self._pods = Collection(PODS, self._revisions)
        self._events = Collection(EVENTS, self._revisions)
        self._custom: dict[tuple[str, str], Collection] = {}
        self._logs: dict[LogKey, str] = {}
        self._config_dir: Path | None = None

    # -- lifecycle -----------------------------------------------------------------

    def stop(self) -> None:
        if self._server is None:
            return
        super().stop()
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None

    # -- client configuration ---------------------------------------------------------

    def kubeconfig(self, namespace: str = "default") -> JsonObject:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "devstack", "cluster": {"server": self.url}}],
            "users": [{"name": "devstack", "user": {"token": self.token}}],
            "contexts": [
                {"name": "devstack", "context": {"cluster": "devstack", "user": "devstack", "namespace": namespace}}
            ],
            "current-context": "devstack",
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig for this server (JSON, which is YAML too) and return its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.kubeconfig(), indent=2))
        target.chmod(0o600)
        return target

    def api_client(self) -> ApiClient:
        """A real ``kubernetes.client.ApiClient`` loaded from a kubeconfig for this server."""
        from kubernetes import config

        if self._config_dir is None:
            self._config_dir = Path(tempfile.mkdtemp(prefix="whooper-kubeconfig-"))
        path = self.write_kubeconfig(self._config_dir / "kubeconfig")
        client: ApiClient = config.new_client_from_config(config_file=str(path))  # type: ignore[no-untyped-call]
        return client

    # -- state -------------------------------------------------------------------------

    def add_pod(self, pod: Mapping[str, Any]) -> None:
        """Store a pod (replacing one with the same namespace and name)."""
        with self._lock:
            self._pods.put(pod)

    def set_pods(self, pods: Iterable[Mapping[str, Any]]) -> None:
        """Replace all pods. Each is serialised once here, so lists only join bytes."""
        with self._lock, gc_paused():
            self._pods.clear()
            self._pods.put_many(pods)

    def delete_pod(self, namespace: str, name: str) -> bool:
        with self._lock:
            return self._pods.remove(f"{namespace}/{name}") is not None

    def get_pod(self, namespace: str, name: str) -> JsonObject | None:
        with self._lock:
            stored = self._pods.get(f"{namespace}/{name}")
            return None if stored is None else dict(json.loads(self._pods.full(stored)))

    @property
    def pod_count(self) -> int:
        with self._lock:
            return len(self._pods)

    def set_logs(
        self, namespace: str, pod: str, text: str, container: str | None = None, *, previous: bool = False
    ) -> None:
        """Log text for a pod's container (``container=None``: for any container of the pod)."""
        with self._lock:
            self._logs[(namespace, pod, container, previous)] = text

    def add_event(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            self._events.put(event)

    def set_events(self, events: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            self._events.clear()
            self._events.put_many(events)

    def register_custom_resource(
        self, group: str, version: str, plural: str, kind: str, *, status_subresource: bool = True
    ) -> None:
        """Declare a custom resource like a CRD would. Unregistered ones are created on first use,
        with their kind taken from the first object or guessed from the plural."""
        with self._lock:
            rtype = ResourceType(group, version, plural, kind, META_FIELDS, True, status_subresource)
            existing = self._custom.get((group, plural))
            collection = Collection(rtype, self._revisions)
            if existing is not None:
                collection.put_many(json.loads(s.item) for s in existing.snapshot().items)
            self._custom[(group, plural)] = collection

    def add_custom_object(self, group: str, version: str, plural: str, obj: Mapping[str, Any]) -> JsonObject:
        """Seed a custom object as if it had been created through the API."""
        with self._lock:
            collection = self._custom_collection(group, version, plural, obj.get("kind"))
            namespace = obj.get("metadata", {}).get("namespace", "default")
            try:
                return create_object(collection, namespace, dict(obj), {})
            except StatusError as error:
                raise ValueError(str(error)) from error

    def get_custom_object(self, group: str, plural: str, namespace: str, name: str) -> JsonObject | None:
        with self._lock:
            collection = self._custom.get((group, plural))
            stored = collection.get(f"{namespace}/{name}") if collection else None
            return None if stored is None else dict(json.loads(stored.item))

    def list_custom_objects(self, group: str, plural: str, namespace: str | None = None) -> list[JsonObject]:
        with self._lock:
            collection = self._custom.get((group, plural))
            if collection is None:
                return []
            items = collection.snapshot().items
        objects = [dict(json.loads(stored.item)) for stored in items]
        return [o for o in objects if namespace is None or o["metadata"].get("namespace") == namespace]

    def expire_continue_tokens(self) -> None:
        """Make every continue token issued so far answer ``410 Expired``, as after etcd compaction."""
        with self._lock:
            # A new revision, so that lists made from now on never reuse a forgotten snapshot's revision.
            self._revisions.next()
            for collection in (self._pods, self._events, *self._custom.values()):
                collection.forget_history()

    # -- faults and recorded requests ------------------------------------------------

    def fail(
        self,
        status: int,
        times: int = 1,
        path_contains: str | None = None,
        *,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a ``Status`` body.

        ``path_contains`` matches the path with its query string (``"continue="`` works).
        403 names :attr:`user` and the request's verb and resource like an RBAC denial.
        ``retry_after`` adds a ``Retry-After`` header; beware that urllib3 (under the
        ``kubernetes`` client) then silently retries GETs answered 413/429/503.
        """
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._faults.add_failure(Fault(status, 0.0, times, path_contains, message, headers))

    def delay(self, seconds: float, times: int = 1, path_contains: str | None = None) -> None:
        """Hold the next ``times`` matching requests for ``seconds`` before answering them.

        To make a GET time out in the ``kubernetes`` client, delay four requests: urllib3
        retries a read timeout three times by itself.
        """
        self._faults.add_delay(Fault(0, seconds, times, path_contains))

    # -- request handling ------------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> Response:
        self._record(request)
        self._hold(request)
        headers = {"Audit-Id": str(uuid.uuid4()), "Cache-Control": "no-cache, private"}
        if request.path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8", headers)
        if request.path == "/version":
            return json_response(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-devstack"}, headers)
        if request.header("Authorization") != f"Bearer {self.token}":
            return json_response(401, status_body(401, "Unauthorized"), headers)
        try:
            route = self._route(request)
            fault = self._faults.take_failure(request.target)
            if fault is not None:
                return fault_response(fault, route, request.path, self.user, headers)
            if route is None:
                raise StatusError(404, "the server could not find the requested resource", details={})
            response = self._dispatch(request, route)
        except StatusError as error:
            return json_response(error.code, error.body, headers)
        response.headers.update(headers)
        return response

    def _route(self, request: RecordedRequest) -> Route | None:
        verb = VERBS.get(request.method, "get")
        match = CORE_PATH.match(request.path)
        if match:
            collection = self._pods if match["resource"] == "pods" else self._events
        else:
            match = CUSTOM_PATH.match(request.path)
            if not match:
                return None
            with self._lock:
                collection = self._custom_collection(match["group"], match["version"], match["resource"], None)
        if match["name"] is None and verb == "get":
            verb = "list"
        return Route(verb, collection, match["ns"], match["name"], match["sub"])

    def _custom_collection(self, group: str, version: str, plural: str, kind: str | None) -> Collection:
        collection = self._custom.get((group, plural))
        if collection is None:
            guessed = kind or (plural[:-1] if plural.endswith("s") else plural).capitalize()
            rtype = ResourceType(group, version, plural, guessed, META_FIELDS, custom=True)
            collection = self._custom[(group, plural)] = Collection(rtype, self._revisions)
            collection.kind_guessed = kind is None
        return collection

    def _dispatch(self, request: RecordedRequest, route: Route) -> Response:
        rtype, verb, subresource = route.collection.rtype, route.verb, route.subresource
        not_allowed = StatusError(405, "the server does not allow this method on the requested resource", details={})
        if request.param("watch") in ("true", "1"):
            raise StatusError(400, "watch is not supported by the devstack Kubernetes API stand-in")
        if route.name is None:
            if verb == "list":
                return self._list(request, route)
            if verb == "create" and rtype.custom and route.namespace:
                return self._create(request, route)
            raise not_allowed
        if route.namespace is None or subresource not in (None, "status", "log"):
            raise StatusError(404, "the server could not find the requested resource", details={})
        if subresource == "log":
            if rtype is not PODS:
                raise StatusError(404, "the server could not find the requested resource", details={})
            if verb == "get":
                return self._log(request, route)
            raise not_allowed
        if verb == "get":
            return self._get(route)
        if rtype.custom and verb == "patch":
            return self._patch(request, route)
        if rtype.custom and verb == "delete" and subresource is None:
            return self._delete(route)
        raise not_allowed

    def _list(self, request: RecordedRequest, route: Route) -> Response:
        collection, rtype = route.collection, route.collection.rtype
        selector = parse_selectors(request.param("fieldSelector"), request.param("labelSelector"), rtype.selectable)
        limit_text = request.param("limit")
        try:
            limit = int(limit_text) if limit_text else None
        except ValueError as error:
            raise StatusError(400, f"limit: Invalid value: {limit_text!r}") from error
        limit = limit if limit and limit > 0 else None
        prefix = f"{route.namespace}/" if route.namespace else ""
        token = request.param("continue")
        with self._lock:
            if token:
                revision, start = decode_continue(token)
                snapshot = collection.snapshot() if revision == -1 else collection.snapshot_at(revision)
                if snapshot is None:
                    fresh = encode_continue(-1, start)
                    raise StatusError(410, CONTINUE_INCONSISTENT, metadata={"continue": fresh})
            else:
                snapshot, start = collection.snapshot(), ""
        page = read_page(snapshot, prefix, start, limit, selector)
        # Assembled from pre-serialised items: no object is encoded again here.
        metadata: JsonObject = {"resourceVersion": str(snapshot.revision)}
        if page.next_start is not None:
            metadata["continue"] = encode_continue(snapshot.revision, page.next_start)
            if page.remaining is not None:
                metadata["remainingItemCount"] = page.remaining
        head = b'{"kind":"%sList","apiVersion":"%s","metadata":%s,"items":[' % (
            rtype.kind.encode(),
            rtype.api_version.encode(),
            dumps(metadata),
        )
        return Response(200, head + b",".join(stored.item for stored in page.items) + b"]}")

    def _get(self, route: Route) -> Response:
        with self._lock:
            stored = route.collection.get(route.key)
        if stored is None:
            raise route.not_found()
        return Response(200, route.collection.full(stored))

    def _log(self, request: RecordedRequest, route: Route) -> Response:
        with self._lock:
            stored = self._pods.get(route.key)
            if stored is None:
                raise route.not_found()
            pod = json.loads(self._pods.full(stored))
            logs = dict(self._logs)
        return pod_log(pod, logs, request, route)

    # -- custom objects --------------------------------------------------------------

    def _create(self, request: RecordedRequest, route: Route) -> Response:
        body = parse_object(request)
        with self._lock:
            created = create_object(route.collection, route.namespace or "", body, request.query)
        return json_response(201, created)

    def _patch(self, request: RecordedRequest, route: Route) -> Response:
        content_type, patch = parse_patch(request)
        with self._lock:
            return patch_object(route, content_type, patch, dry_run="dryRun" in request.query)

    def _delete(self, route: Route) -> Response:
        with self._lock:
            stored = route.collection.remove(route.key)
        if stored is None:
            raise route.not_found()
        return Response(200, stored.item)  # custom objects answer a DELETE with the object
