"""Builds the alert_webhook app from its configuration (``os.environ`` in production, a dict in tests)."""

from __future__ import annotations

from alert_webhook.auth import auth_from_env
from alert_webhook.dedupe import DEFAULT_MAX_ENTRIES, DEFAULT_TTL_SECONDS, SentRecord
from alert_webhook.intake import DEFAULT_MAX_BODY_BYTES
from alert_webhook.sink import sink_from_env
from alert_webhook.webhook import FUNCTION, AlertWebhook
from whooper_common import logs
from whooper_common.config import Env, get_float, get_int, get_str
from whooper_common.httpapp import FunctionApp
from whooper_common.mailer import mailer_from_env
from whooper_common.metrics import new_registry


def build(env: Env) -> FunctionApp:
    """The whole function; raises ``ConfigError`` naming the variable when the configuration is unusable."""
    logs.configure(get_str(env, "LOG_LEVEL", "INFO"))
    registry = new_registry()
    webhook = AlertWebhook(
        auth=auth_from_env(env),
        mailer=mailer_from_env(env, registry),
        sink=sink_from_env(env, registry),
        record=SentRecord(
            ttl_seconds=get_float(env, "DEDUPE_TTL_SECONDS", DEFAULT_TTL_SECONDS, minimum=1),
            max_entries=get_int(env, "DEDUPE_MAX_ENTRIES", DEFAULT_MAX_ENTRIES, minimum=1),
        ),
        registry=registry,
        max_body_bytes=get_int(env, "WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1024),
    )
    return FunctionApp(FUNCTION, registry, {"/": {"POST": webhook}})
