"""Custom objects: create, patch and the ``/status`` subresource rules, as for real custom resources."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from devstack.kube_api.naming import k8s_time, safe_id
from devstack.kube_api.patch import PatchError, json_patch, merge_patch
from devstack.kube_api.resources import ResourceType
from devstack.kube_api.routing import Route
from devstack.kube_api.store import Collection
from devstack.kube_api.wire import StatusError, json_response
from devstack.standin import JsonObject, RecordedRequest, Response


def parse_object(request: RecordedRequest) -> JsonObject:
    """The JSON object a create request sends."""
    try:
        body = json.loads(request.body)
    except ValueError as error:
        raise StatusError(400, f"the object provided is unrecognized: {error}") from error
    if not isinstance(body, dict):
        raise StatusError(400, "the object provided is unrecognized (must be a JSON object)")
    return body


def create_object(
    collection: Collection, namespace: str, body: JsonObject, query: Mapping[str, list[str]]
) -> JsonObject:
    """Create a custom object as the API server would (the caller holds the server's lock)."""
    rtype = collection.rtype
    if body.get("apiVersion") != rtype.api_version:
        raise StatusError(
            400,
            f"the API version in the data ({body.get('apiVersion')}) does not match "
            f"the expected API version ({rtype.api_version})",
        )
    if body.get("kind") != rtype.kind:
        if collection.kind_guessed and isinstance(body.get("kind"), str):
            # No CRD told the kind: the first object does.
            collection.rtype = rtype = dataclasses.replace(rtype, kind=body["kind"])
            collection.kind_guessed = False
        else:
            raise StatusError(
                400, f"the kind in the data ({body.get('kind')}) does not match the expected kind ({rtype.kind})"
            )
    metadata = dict(body.get("metadata") or {})
    if metadata.get("namespace", namespace) != namespace:
        raise StatusError(400, "the namespace of the provided object does not match the namespace sent on the request")
    if not metadata.get("name"):
        if not metadata.get("generateName"):
            raise StatusError(
                422,
                f'{rtype.kind}.{rtype.group} "" is invalid: metadata.name: Required value: '
                "name or generateName is required",
            )
        metadata["name"] = metadata["generateName"] + safe_id(5, str(uuid.uuid4()))
    name = metadata["name"]
    if collection.get(f"{namespace}/{name}") is not None:
        raise StatusError(
            409,
            f'{rtype.qualified} "{name}" already exists',
            "AlreadyExists",
            details={"name": name, "group": rtype.group, "kind": rtype.plural},
        )
    now = k8s_time(datetime.now(UTC))
    manager = (query.get("fieldManager") or [""])[0] or "OpenAPI-Generator"
    metadata.update({"namespace": namespace, "uid": str(uuid.uuid4()), "generation": 1, "creationTimestamp": now})
    metadata["managedFields"] = [
        {
            "apiVersion": rtype.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": {f"f:{key}": {} for key in body if key not in ("apiVersion", "kind", "metadata", "status")},
            "manager": manager,
            "operation": "Update",
            "time": now,
        }
    ]
    obj = {**body, "metadata": metadata}
    if rtype.status_subresource:
        obj.pop("status", None)  # status is only written through /status
    if "dryRun" in query:
        return obj
    return dict(json.loads(collection.put(obj).item))


def parse_patch(request: RecordedRequest) -> tuple[str, Any]:
    """The media type and the parsed body of a patch request."""
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    try:
        patch = json.loads(request.body)
    except ValueError as error:
        raise StatusError(400, f"error decoding patch: {error}") from error
    return content_type, patch


def patch_object(route: Route, content_type: str, patch: Any, *, dry_run: bool) -> Response:
    """Patch a custom object (the caller holds the server's lock)."""
    collection, rtype = route.collection, route.collection.rtype
    stored = collection.get(route.key)
    if stored is None:
        raise route.not_found()
    current = json.loads(stored.item)
    try:
        if content_type == "application/merge-patch+json":
            patched = merge_patch(current, patch)
        elif content_type == "application/json-patch+json":
            patched = json_patch(current, patch)
        else:
            # Custom resources have no strategic merge patch (no Go struct tags to merge by).
            raise StatusError(
                415,
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json",
            )
    except PatchError as error:
        raise StatusError(422, str(error)) from error
    if not isinstance(patched, dict):
        raise StatusError(422, "the patched object is not a JSON object")
    sent_version = patched.get("metadata", {}).get("resourceVersion")
    if sent_version and sent_version != current["metadata"]["resourceVersion"]:
        raise StatusError(
            409,
            f'Operation cannot be fulfilled on {rtype.qualified} "{route.name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            details={"name": route.name, "group": rtype.group, "kind": rtype.plural},
        )
    result = _apply_subresource_rules(rtype, route.subresource, current, patched)
    if result == current:
        return Response(200, stored.item)  # a no-op patch keeps the resourceVersion
    if dry_run:
        return json_response(200, result)
    return Response(200, collection.put(result).item)


def _apply_subresource_rules(
    rtype: ResourceType, subresource: str | None, current: JsonObject, patched: JsonObject
) -> JsonObject:
    metadata = {**patched.get("metadata", {})}
    for fixed in ("name", "namespace", "uid", "creationTimestamp", "resourceVersion", "generation"):
        if fixed in current["metadata"]:
            metadata[fixed] = current["metadata"][fixed]
    if subresource == "status":
        # /status writes only .status; everything else stays as it was.
        result = {k: v for k, v in current.items() if k != "status"}
        if "status" in patched:
            result["status"] = patched["status"]
        return result
    result = {**patched, "metadata": metadata, "apiVersion": current["apiVersion"], "kind": current["kind"]}
    if rtype.status_subresource:
        result.pop("status", None)
        if "status" in current:
            result["status"] = current["status"]

    def spec_of(obj: JsonObject) -> JsonObject:
        return {k: v for k, v in obj.items() if k not in ("metadata", "status")}

    status_changed = result.get("status") != current.get("status")
    if spec_of(result) != spec_of(current) or (status_changed and not rtype.status_subresource):
        metadata["generation"] = int(current["metadata"].get("generation", 1)) + 1
    return result
