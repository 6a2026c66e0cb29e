"""Bearer-token check of Alertmanager's ``http_config.authorization``.

The token is compared in constant time, so response timing does not reveal how
much of a guess was right. Without a configured token the function refuses to
build unless unauthenticated use is asked for explicitly.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field

import flask

from whooper_common.config import ConfigError, Env, get_bool, get_str
from whooper_common.httpapp import HTTPError

log = logging.getLogger("whooper.alert_webhook")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="alert_webhook"'}


@dataclass(frozen=True)
class BearerAuth:
    """``token`` empty means every request is let in (only when configured so)."""

    token: str = field(repr=False)

    def check(self, request: flask.Request) -> None:
        """Raise 401 unless the request carries ``Authorization: Bearer <token>``."""
        if not self.token:
            return
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise HTTPError(401, "missing bearer token: send Authorization: Bearer <token>", _CHALLENGE)
        if not hmac.compare_digest(credentials.strip().encode(), self.token.encode()):
            raise HTTPError(401, "bearer token is not valid", _CHALLENGE)


def auth_from_env(env: Env) -> BearerAuth:
    token = get_str(env, "WEBHOOK_BEARER_TOKEN")
    if token:
        return BearerAuth(token)
    if get_bool(env, "WEBHOOK_ALLOW_UNAUTHENTICATED"):
        log.warning(
            "WEBHOOK_BEARER_TOKEN is not set: accepting unauthenticated requests (WEBHOOK_ALLOW_UNAUTHENTICATED)"
        )
        return BearerAuth("")
    raise ConfigError(
        "WEBHOOK_BEARER_TOKEN is not set: set it to the token in Alertmanager's http_config.authorization, "
        "or WEBHOOK_ALLOW_UNAUTHENTICATED=true to accept anyone"
    )
