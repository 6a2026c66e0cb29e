"""Run in a fresh process: how long loading a function takes, and what its first request costs.

``python -m bench.cold_probe SOURCE`` loads the source through functions-framework
(as the server does before it serves), then answers one ``GET /healthz`` through
Flask's test client (which builds the app from the environment), and prints
one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

# Modules whose import is a cold-start cost worth naming.
HEAVY = ("kubernetes", "google.genai", "requests", "urllib3", "prometheus_client", "msgspec", "jinja2", "cloudevents")


def main(source: str) -> None:
    started = time.perf_counter()
    from functions_framework import create_app

    app = create_app("handle", source)  # type: ignore[no-untyped-call]
    imported = time.perf_counter() - started
    loaded_at_import = [name for name in HEAVY if name in sys.modules]
    started = time.perf_counter()
    status = app.test_client().get("/healthz").status_code
    first_request = time.perf_counter() - started
    print(
        json.dumps(
            {
                "import_s": imported,
                "first_request_s": first_request,
                "status": status,
                "loaded_at_import": loaded_at_import,
                "loaded_after_healthz": [name for name in HEAVY if name in sys.modules],
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
