"""functions-framework entry point of incident_report (target ``handle``, HTTP signature).

Thin on purpose: the app is built from the environment on first use by
:func:`incident_report.app.build`; nothing is configured at import time.
"""

from incident_report.app import build
from whooper_common.httpapp import lazy_handler

handle = lazy_handler("incident_report", build)
