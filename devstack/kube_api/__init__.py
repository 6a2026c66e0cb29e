"""A Kubernetes API server stand-in that speaks the real REST wire protocol.

Tests drive it with the real ``kubernetes`` client through a kubeconfig it writes
(:meth:`KubeApiServer.write_kubeconfig`, :meth:`KubeApiServer.api_client`), so the
code under test runs unchanged: same URLs, same JSON, same ``Status`` errors.

What it copies from the real API server, because client code depends on it:

* Bearer-token authentication: anything else gets ``401`` with a ``Status`` body.
* Lists (pods, events, custom objects) are ordered by etcd key (``namespace/name``)
  and paged with ``limit``/``continue`` exactly like the API server:
  ``metadata.continue``, ``metadata.remainingItemCount`` (only without selectors),
  ``metadata.resourceVersion``, and an opaque continue token. Later pages are served
  from the snapshot the first page came from (a consistent list). Tokens older than
  :meth:`KubeApiServer.expire_continue_tokens` (or than the last few snapshots, like
  etcd compaction) answer ``410 Expired`` with a fresh "inconsistent" token in
  ``metadata.continue``, as the API server does.
* Items of built-in lists carry no ``kind``/``apiVersion``; custom object lists do
  (unstructured objects keep them, with keys sorted like Go maps).
* ``fieldSelector`` with the fields the API server supports for pods and events
  (``=``, ``==``, ``!=``; unsupported fields answer ``400``), equality- and set-based
  ``labelSelector``.
* Pod logs: ``container`` is required when a pod has several containers, containers
  that never started answer ``400 ... is waiting to start``, ``tailLines`` is applied
  before ``limitBytes``, ``previous=true`` needs a terminated previous instance.
* Custom objects: create (``409 AlreadyExists``), get, list, merge/JSON patch
  (``415`` for strategic merge patch, as for real custom resources), delete, and a
  ``/status`` subresource. With the status subresource on (the default, as for most
  CRDs) create and patch of the main resource ignore ``.status`` and ``/status``
  changes only ``.status``; ``metadata.generation`` grows on spec changes only.

What it leaves out: watch, protobuf, server-side apply, PUT, admission, defaulting
and validation of built-in objects, and ``timestamps`` on logs.

Faults (:meth:`KubeApiServer.fail`, :meth:`KubeApiServer.delay`) meet the client's
own retries: urllib3, under the ``kubernetes`` client, retries a GET up to three
times after a read timeout (so one slow answer is invisible; after four the call
raises ``urllib3.exceptions.MaxRetryError``, not ``ApiException``) and after a
413/429/503 that carries ``Retry-After``. Without ``Retry-After`` a 429 surfaces.

Run ``python -m devstack.kube_api --port P --pods N --token T`` to serve N generated
pods from another process; it prints ``ready http://127.0.0.1:P`` once it listens.

The package, by what each module does:

* :mod:`~devstack.kube_api.server`: :class:`KubeApiServer`, its state and request routing;
  :mod:`~devstack.kube_api.routing` (paths), :mod:`~devstack.kube_api.custom` (custom
  objects), :mod:`~devstack.kube_api.logs` (pod logs), :mod:`~devstack.kube_api.faults`
  (the ``Status`` of injected failures).
* :mod:`~devstack.kube_api.store` (collections, snapshots, continue tokens),
  :mod:`~devstack.kube_api.resources`, :mod:`~devstack.kube_api.selectors`,
  :mod:`~devstack.kube_api.patch`, :mod:`~devstack.kube_api.wire` (compact JSON, ``Status``).
* Objects: :mod:`~devstack.kube_api.pods`, :mod:`~devstack.kube_api.managed_fields`,
  :mod:`~devstack.kube_api.events`, :mod:`~devstack.kube_api.generate`,
  :mod:`~devstack.kube_api.naming`.
* :mod:`~devstack.kube_api.cli` (``python -m devstack.kube_api``); the HTTP plumbing it shares
  with the Gemini stand-in is :mod:`devstack.standin`.
"""

from devstack.kube_api.cli import main
from devstack.kube_api.events import make_event, pod_events
from devstack.kube_api.generate import generate_pods
from devstack.kube_api.patch import json_patch, merge_patch
from devstack.kube_api.pods import make_pod
from devstack.kube_api.server import DEFAULT_TOKEN, DEFAULT_USER, KubeApiServer
from devstack.kube_api.server import log as log
from devstack.kube_api.store import SNAPSHOTS_KEPT as SNAPSHOTS_KEPT
from devstack.kube_api.wire import CONTINUE_EXPIRED, CONTINUE_INCONSISTENT, status_body
from devstack.standin import JsonObject as JsonObject
from devstack.standin import RecordedRequest

__all__ = [
    "CONTINUE_EXPIRED",
    "CONTINUE_INCONSISTENT",
    "DEFAULT_TOKEN",
    "DEFAULT_USER",
    "KubeApiServer",
    "RecordedRequest",
    "generate_pods",
    "json_patch",
    "main",
    "make_event",
    "make_pod",
    "merge_patch",
    "pod_events",
    "status_body",
]
