"""The resources the stand-in serves: names, and the fields selectors may use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceType:
    """What the stand-in knows about one resource: its names and how lists and selectors treat it."""

    group: str  # "" for the core API
    version: str
    plural: str
    kind: str
    # fieldSelector name -> path in the object (the API server supports a fixed set per resource)
    selectable: Mapping[str, str] = field(default_factory=dict)
    custom: bool = False  # custom objects keep kind/apiVersion in list items and sort their keys
    status_subresource: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods`` or ``widgets.example.com``, as error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


META_FIELDS = {"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace"}
PODS = ResourceType(
    "",
    "v1",
    "pods",
    "Pod",
    {
        **META_FIELDS,
        **{
            path: path
            for path in (
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            )
        },
    },
)
EVENTS = ResourceType(
    "",
    "v1",
    "events",
    "Event",
    {
        **META_FIELDS,
        **{
            path: path
            for path in (
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "type",
            )
        },
        "source": "source.component",
    },
)
