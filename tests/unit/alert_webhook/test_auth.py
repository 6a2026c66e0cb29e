"""Bearer token: the right one passes, anything else is 401; no token configured refuses to build."""

from __future__ import annotations

import flask
import pytest

from alert_webhook.auth import BearerAuth, auth_from_env
from whooper_common.config import ConfigError
from whooper_common.httpapp import HTTPError

TOKEN = "c0rrect-horse-battery"


def _check(auth: BearerAuth, headers: dict[str, str]) -> None:
    with flask.Flask("test").test_request_context("/", method="POST", headers=headers):
        auth.check(flask.request)


def test_right_token_passes() -> None:
    _check(BearerAuth(TOKEN), {"Authorization": f"Bearer {TOKEN}"})
    _check(BearerAuth(TOKEN), {"Authorization": f"bearer {TOKEN}"})  # the scheme is case-insensitive (RFC 7235)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": f"Basic {TOKEN}"}, "missing bearer token"),
        ({"Authorization": "Bearer "}, "missing bearer token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "not valid"),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "not valid"),
        ({"Authorization": "Bearer wrong"}, "not valid"),
    ],
)
def test_anything_else_is_401_with_a_challenge(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(HTTPError) as caught:
        _check(BearerAuth(TOKEN), headers)
    assert caught.value.status == 401
    assert reason in caught.value.message
    assert TOKEN not in caught.value.message
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_is_not_in_the_repr() -> None:
    assert TOKEN not in repr(auth_from_env({"WEBHOOK_BEARER_TOKEN": TOKEN}))


def test_no_token_refuses_to_build_unless_unauthenticated_is_asked_for() -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_BEARER_TOKEN is not set"):
        auth_from_env({})
    with pytest.raises(ConfigError, match="WEBHOOK_BEARER_TOKEN"):
        auth_from_env({"WEBHOOK_ALLOW_UNAUTHENTICATED": "false"})
    open_door = auth_from_env({"WEBHOOK_ALLOW_UNAUTHENTICATED": "true"})
    _check(open_door, {})
