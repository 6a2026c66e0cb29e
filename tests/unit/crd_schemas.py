"""Custom resources checked offline against the JSON Schema of their CRD, strictly.

The schemas come from cloudcoil's generated models (made from the projects' own CRDs); strict means
no field beyond those a schema names, as the API server's strict field validation would have it.
"""

from __future__ import annotations

from typing import Any

import jsonschema


def strict(node: Any) -> Any:
    """The schema with ``additionalProperties: false`` wherever it names properties and says nothing else."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Of an anyOf/oneOf failure, the alternative's error that got furthest into the object."""
    candidates = [error, *(_deepest(child) for child in error.context or [])]
    return max(candidates, key=lambda candidate: len(candidate.absolute_path))


def schema_errors(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Where and why ``obj`` breaks ``schema``, each error named by the deepest field it reached."""
    errors = []
    for error in jsonschema.Draft202012Validator(schema).iter_errors(obj):
        deepest = _deepest(error)
        path = ".".join(map(str, deepest.absolute_path)) or "(top)"
        errors.append(f"{path}: {deepest.message[:300]}")
    return errors
