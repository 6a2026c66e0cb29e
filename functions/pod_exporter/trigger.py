"""What may start a run: a Knative PingSource event (binary or structured CloudEvent) or a plain POST."""

from __future__ import annotations

import flask

from whooper_common.events import PING, EventError, from_request
from whooper_common.httpapp import HTTPError


def read_trigger(request: flask.Request) -> str:
    """A short description of what triggered the run, for the log; 400 for anything that is not a run request."""
    content_type = (request.content_type or "").lower()
    if "ce-specversion" not in request.headers and not content_type.startswith("application/cloudevents"):
        return "plain POST"
    if content_type.startswith("application/cloudevents-batch"):
        raise HTTPError(400, "a batch of CloudEvents is not accepted; send the ping event on its own")
    try:
        event = from_request(request)
    except EventError as error:
        raise HTTPError(400, str(error)) from None
    if event["type"] != PING:
        raise HTTPError(400, f"pod_exporter runs on {PING} events (or a plain POST), not on {event['type']!r} events")
    return f"ping event {event['id']} from {event['source']}"
