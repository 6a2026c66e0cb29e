"""A functions-framework HTTP function that only answers 200: what every function is compared with.

It imports nothing of its own, so its cold start and its throughput are the
framework's (Flask under gunicorn) and nothing else.
"""

from __future__ import annotations

from typing import Any


def handle(_request: Any) -> tuple[str, int]:
    return "ok", 200
