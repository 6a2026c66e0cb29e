"""What may start a run: a Knative PingSource event (binary or structured CloudEvent) or a plain POST."""

from __future__ import annotations

import flask
from cloudevents.exceptions import GenericException
from cloudevents.http import from_http

from whooper_common.httpapp import HTTPError

PING_TYPE = "dev.knative.sources.ping"


def read_trigger(request: flask.Request) -> str:
    """A short description of what triggered the run, for the log; 400 for anything that is not a run request."""
    headers = {key.lower(): value for key, value in request.headers.items()}
    content_type = headers.get("content-type", "").lower()
    if "ce-specversion" not in headers and not content_type.startswith("application/cloudevents"):
        return "plain POST"
    if content_type.startswith("application/cloudevents-batch"):
        raise HTTPError(400, "a batch of CloudEvents is not accepted; send the ping event on its own")
    try:
        event = from_http(headers, request.get_data())
    except (GenericException, ValueError, TypeError, AttributeError) as error:
        raise HTTPError(400, f"the request is not a valid CloudEvent: {error}") from None
    if event["type"] != PING_TYPE:
        raise HTTPError(
            400, f"pod_exporter runs on {PING_TYPE} events (or a plain POST), not on {event['type']!r} events"
        )
    return f"ping event {event['id']} from {event['source']}"
