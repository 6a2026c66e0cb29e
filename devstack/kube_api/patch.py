"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as custom objects accept them."""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``application/merge-patch+json``)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class PatchError(ValueError):
    pass


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'JSON pointer must start with "/": {path!r}')
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _index(container: list[Any], part: str, *, for_add: bool = False) -> int:
    if for_add and part == "-":
        return len(container)
    if not part.isdigit():
        raise PatchError(f"invalid array index {part!r}")
    position = int(part)
    if position > len(container) or (position == len(container) and not for_add):
        raise PatchError(f"array index {position} out of bounds")
    return position


def _resolve(document: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(document, dict):
            if token not in document:
                raise PatchError(f"missing value at /{'/'.join(tokens)}")
            document = document[token]
        elif isinstance(document, list):
            document = document[_index(document, token)]
        else:
            raise PatchError(f"cannot descend into a scalar at /{'/'.join(tokens)}")
    return document


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(document, tokens[:-1])
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], for_add=True), value)
    else:
        raise PatchError("cannot add to a scalar")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(document, tokens[:-1])
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchError(f"unable to remove nonexistent key: {tokens[-1]}: missing value")
        return parent.pop(tokens[-1])
    if isinstance(parent, list):
        return parent.pop(_index(parent, tokens[-1]))
    raise PatchError("cannot remove from a scalar")


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (``application/json-patch+json``) on a copy of ``document``."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "path" not in operation:
            raise PatchError(f"invalid operation {operation!r}")
        op, tokens = operation.get("op"), _pointer(operation["path"])
        if op == "add":
            result = _add(result, tokens, copy.deepcopy(operation["value"]))
        elif op == "remove":
            _remove(result, tokens)
        elif op == "replace":
            _resolve(result, tokens)  # unlike add, replace needs an existing value
            if tokens:
                _remove(result, tokens)
            result = _add(result, tokens, copy.deepcopy(operation["value"]))
        elif op in ("move", "copy"):
            source = _pointer(operation["from"])
            value = _remove(result, source) if op == "move" else copy.deepcopy(_resolve(result, source))
            result = _add(result, tokens, value)
        elif op == "test":
            if _resolve(result, tokens) != operation.get("value"):
                raise PatchError(f"testing value /{'/'.join(tokens)} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {op}")
    return result
