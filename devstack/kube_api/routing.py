"""Which collection, namespace, name and subresource a request path means."""

from __future__ import annotations

import re
from dataclasses import dataclass

from devstack.kube_api.store import Collection
from devstack.kube_api.wire import StatusError
from devstack.standin import JsonObject

CORE_PATH = re.compile(
    r"^/api/v1/(?:namespaces/(?P<ns>[^/]+)/)?(?P<resource>pods|events)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?/?$"
)
CUSTOM_PATH = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/(?:namespaces/(?P<ns>[^/]+)/)?"
    r"(?P<resource>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?/?$"
)
VERBS = {"POST": "create", "PATCH": "patch", "DELETE": "delete", "PUT": "update"}


@dataclass(frozen=True)
class Route:
    verb: str  # the RBAC verb: list, get, create, patch, delete, update
    collection: Collection
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def not_found(self) -> StatusError:
        rtype = self.collection.rtype
        details: JsonObject = {
            "name": self.name,
            **({"group": rtype.group} if rtype.group else {}),
            "kind": rtype.plural,
        }
        return StatusError(404, f'{rtype.qualified} "{self.name}" not found', details=details)
