"""functions-framework entry point of pod_exporter (target ``handle``, HTTP signature).

Thin on purpose: the app is built from the environment on first use by
:func:`pod_exporter.app.build`; nothing is configured at import time.
"""

from pod_exporter.app import build
from whooper_common.httpapp import lazy_handler

handle = lazy_handler("pod_exporter", build)
