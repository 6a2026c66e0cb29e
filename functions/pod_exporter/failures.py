"""Why a run failed, in terms a platform engineer can act on."""

from __future__ import annotations


class ExportFailure(Exception):
    """A run that pushed nothing: ``kind`` labels the error counter, ``status`` is the retryable HTTP answer.

    ``message`` names the cause and what to check; it holds no secrets, so it is
    safe to log and to send to the caller.
    """

    def __init__(self, kind: str, status: int, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.message = message


# Every kind a run can fail with; the error counter starts each at 0 so increase() sees the first one.
KINDS = (
    "kubernetes_config",
    "kubernetes_unauthorized",
    "kubernetes_forbidden",
    "kubernetes_unreachable",
    "kubernetes_timeout",
    "kubernetes_list_expired",
    "kubernetes_error",
    "pushgateway_unreachable",
    "pushgateway_timeout",
    "pushgateway_rejected",
)
