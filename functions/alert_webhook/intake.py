"""Reading the request body into a :class:`Notification`: content type, size limit, JSON, payload shape.

Every failure is the caller's to fix, so each becomes a 4xx that says what was
wrong (and, for a bad payload, which field).
"""

from __future__ import annotations

import json

import flask

from whooper_common.alertmanager import Notification, PayloadError
from whooper_common.httpapp import HTTPError

# Alertmanager 0.25 sends about 1 KiB per alert with typical annotations; 5 MiB leaves room for
# 1,000 alerts with long descriptions (see the test of a 1,000-alert payload).
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def read_body(request: flask.Request, max_bytes: int) -> bytes:
    """The raw body, refusing (413) more than ``max_bytes`` whether or not Content-Length was sent."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise HTTPError(413, f"body of {request.content_length} bytes is over the limit of {max_bytes} bytes")
    # One read() may return less than asked (a short read from the socket), so read until the end or the limit.
    chunks: list[bytes] = []
    size = 0
    while chunk := request.stream.read(min(_CHUNK_BYTES, max_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise HTTPError(413, f"body is over the limit of {max_bytes} bytes")
    return b"".join(chunks)


def read_notification(request: flask.Request, max_bytes: int) -> Notification:
    if not _is_json(request.mimetype):
        shown = request.mimetype or "none"
        raise HTTPError(415, f"content type {shown!r} is not supported: send application/json")
    body = read_body(request, max_bytes)
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise HTTPError(400, "body is not UTF-8 encoded JSON") from None
    except json.JSONDecodeError as error:
        raise HTTPError(
            400, f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except (ValueError, RecursionError):  # integers with too many digits, nesting deeper than the parser takes
        raise HTTPError(
            400, "body is not JSON this function can read (too deeply nested or a number too long)"
        ) from None
    try:
        return Notification.from_dict(data)
    except PayloadError as error:
        raise HTTPError(400, f"not an Alertmanager webhook notification: {error}") from None
