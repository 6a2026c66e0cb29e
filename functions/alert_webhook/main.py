"""functions-framework entry point of alert_webhook (target ``handle``, HTTP signature).

Thin on purpose: the app is built from the environment on first use by
:func:`alert_webhook.app.build`; nothing is configured at import time.
"""

from alert_webhook.app import build
from whooper_common.httpapp import lazy_handler

handle = lazy_handler("alert_webhook", build)
