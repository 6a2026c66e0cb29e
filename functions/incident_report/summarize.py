"""Incident summaries from Gemini (google-genai), with the template whenever Gemini cannot give a usable one.

``google.genai`` is imported inside the first call, not at module import: it
takes most of a second to load, and a cold start that never needs the AI (a
health check, a resolved alert, no API key) should not pay for it.

The client is made with retries off (one attempt) and the configured timeout,
so a Gemini outage costs at most ``GEMINI_TIMEOUT_SECONDS`` per incident; the
Broker, not the SDK, decides about redelivery, and a Gemini failure never
causes one: the report goes out with the template summary.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram

from incident_report.answer import AnswerRejected, Summary, validate_answer
from incident_report.circuit import CircuitBreaker
from incident_report.context import Context
from incident_report.fallback import template_summary
from incident_report.prompt import RESPONSE_SCHEMA, build_prompt, data_block
from whooper_common.alertmanager import Alert
from whooper_common.config import ConfigError, Env, get_float, get_int, get_str
from whooper_common.metrics import LATENCY_BUCKETS, NAMESPACE

log = logging.getLogger("whooper.incident_report.summarize")

DEFAULT_MODEL = "gemini-2.5-flash"
DEFAULT_TIMEOUT_SECONDS = 20.0
SUBJECT_TYPE = "incident_report"  # the ``type`` label of the subject suggestions: the email they are for
OPERATION = "summarize"

# The ``status`` of whooper_ai_summary_requests_total: success, or why the template summary was used.
SummaryStatus = Literal[
    "success",
    "disabled",  # no GEMINI_API_KEY: the template by choice, not a failure
    "circuit_open",  # calls paused after repeated 429s
    "timeout",
    "rate_limited",
    "server_error",
    "client_error",
    "unreachable",
    "rejected",  # Gemini answered, but the answer was unusable
    "error",
]
SUMMARY_STATUSES: tuple[SummaryStatus, ...] = get_args(SummaryStatus)
# What GeminiAPIErrors counts as failed: every status but these two (circuit_open included, or the
# alert would clear while the circuit keeps Gemini paused).
NOT_FAILED: frozenset[SummaryStatus] = frozenset({"success", "disabled"})
SubjectStatus = Literal["success", "rejected", "fallback"]
SUBJECT_STATUSES: tuple[SubjectStatus, ...] = get_args(SubjectStatus)


@dataclass(frozen=True)
class GeminiSettings:
    api_key: str = field(default="", repr=False)
    model: str = DEFAULT_MODEL
    base_url: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    circuit_threshold: int = 3
    circuit_open_seconds: float = 300.0
    max_output_tokens: int = 2048

    @classmethod
    def from_env(cls, env: Env) -> GeminiSettings:
        base_url = get_str(env, "GEMINI_BASE_URL")
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"GEMINI_BASE_URL={base_url!r} must be an http:// or https:// URL")
        return cls(
            api_key=env.get("GEMINI_API_KEY", "").strip(),
            model=get_str(env, "GEMINI_MODEL", DEFAULT_MODEL) or DEFAULT_MODEL,
            base_url=base_url,
            timeout=get_float(env, "GEMINI_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, minimum=0.1),
            circuit_threshold=get_int(env, "GEMINI_CIRCUIT_THRESHOLD", 3, minimum=1),
            circuit_open_seconds=get_float(env, "GEMINI_CIRCUIT_OPEN_SECONDS", 300.0, minimum=0.0),
        )


class AiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.summaries = Counter(
            "ai_summary_requests",
            "Incident summaries, by status: success, or why the template was used (disabled, circuit_open, "
            "timeout, rate_limited, server_error, client_error, unreachable, rejected, error).",
            ["status"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.subjects = Counter(
            "ai_subject_suggestion_requests",
            "Email subjects suggested by the AI, by status (success, rejected, fallback) and email type.",
            ["status", "type"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.latency = Histogram(
            "ai_api_latency_seconds",
            "Time of one call to the AI API, by operation.",
            ["operation"],
            namespace=NAMESPACE,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        # Every series exists from the start at 0, so the rules' rate() ratios see the first failure.
        for status in SUMMARY_STATUSES:
            self.summaries.labels(status)
        for subject_status in SUBJECT_STATUSES:
            self.subjects.labels(subject_status, SUBJECT_TYPE)
        self.latency.labels(OPERATION)


class GeminiFailure(Exception):
    """A call that gave no answer; ``status`` is the metric label, the message is safe to log."""

    def __init__(self, status: SummaryStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def make_client(settings: GeminiSettings) -> Any:
    """A google-genai client with the timeout set and the SDK's retries off."""
    from google import genai  # imported here on purpose: see the module docstring
    from google.genai import types

    options = types.HttpOptions(
        base_url=settings.base_url or None,
        timeout=max(1, int(settings.timeout * 1000)),  # milliseconds
        # One attempt: the SDK's tenacity retries (408/429/5xx, exponential back-off) would multiply the timeout.
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key=settings.api_key, http_options=options)


def _classify(error: Exception) -> GeminiFailure:
    """Sort an exception from the SDK into a metric status, without importing anything new."""
    code = getattr(error, "code", None)
    if isinstance(code, int) and type(error).__module__.startswith("google.genai"):
        if code == 429:
            return GeminiFailure("rate_limited", "Gemini answered 429 (rate limited)")
        if code >= 500:
            return GeminiFailure("server_error", f"Gemini answered {code}")
        return GeminiFailure("client_error", f"Gemini answered {code} (check GEMINI_API_KEY and GEMINI_MODEL)")
    name = type(error).__name__
    if "Timeout" in name or isinstance(error, TimeoutError):
        return GeminiFailure("timeout", f"Gemini did not answer in time ({name})")
    if type(error).__module__.startswith(("httpx", "httpcore")) or isinstance(error, OSError):
        return GeminiFailure("unreachable", f"Gemini unreachable ({name})")
    return GeminiFailure("error", f"Gemini call failed ({name})")


class Summarizer:
    """Summaries for incidents: Gemini's when it gives a usable one, else the template, never an exception."""

    def __init__(self, settings: GeminiSettings, metrics: AiMetrics, circuit: CircuitBreaker | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.circuit = circuit or CircuitBreaker(settings.circuit_threshold, settings.circuit_open_seconds)
        self._client: Any = None
        self._client_lock = threading.Lock()
        # A few calls at once (gunicorn threads); each is bounded by the SDK's own timeout, so none lingers.
        self._calls = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gemini")

    def _gemini(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def summarize(self, alert: Alert, context: Context) -> Summary:
        if not self.settings.api_key:
            return self._fallback(alert, context, "disabled", "GEMINI_API_KEY is not set")
        if not self.circuit.allow():
            return self._fallback(alert, context, "circuit_open", "Gemini rate-limited us; calls paused for a while")
        prompt = build_prompt(alert, context)
        try:
            raw = self._generate(prompt.system, prompt.user)
            summary = validate_answer(raw, data_block(alert, context))
        except GeminiFailure as failure:
            return self._fallback(alert, context, failure.status, str(failure))
        except AnswerRejected as rejected:
            return self._fallback(alert, context, "rejected", f"the AI answer was rejected: {rejected}")
        self.metrics.summaries.labels("success").inc()
        self.metrics.subjects.labels("success" if summary.subject else "rejected", SUBJECT_TYPE).inc()
        log.info("AI summary accepted", extra={"alertname": alert.name, "evidence": len(summary.evidence)})
        return summary

    def _request(self, client: Any, system: str, user: str) -> Any:
        from google.genai import types

        response = client.models.generate_content(
            model=self.settings.model,
            contents=user,
            config=types.GenerateContentConfig(
                system_instruction=system,
                response_mime_type="application/json",
                response_schema=RESPONSE_SCHEMA,
                temperature=0.2,
                max_output_tokens=self.settings.max_output_tokens,
                # No tools are offered; this keeps the SDK from looping over function calls.
                automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            ),
        )
        return response.text

    def _generate(self, system: str, user: str) -> str:
        try:
            client = self._gemini()  # the first call loads google-genai: not part of Gemini's time to answer
        except Exception as error:  # an unusable SDK or configuration ends in the template too
            raise _classify(error) from None
        started = time.perf_counter()
        # The SDK's timeout bounds each wait for bytes, not the call; the deadline here bounds the call, so a
        # server that answers slowly byte by byte still costs at most GEMINI_TIMEOUT_SECONDS.
        call = self._calls.submit(self._request, client, system, user)
        try:
            text = call.result(timeout=self.settings.timeout)
        except FutureTimeout:
            call.cancel()
            self.circuit.record_other()
            raise GeminiFailure("timeout", "Gemini did not answer in time (deadline)") from None
        except Exception as error:  # any SDK failure must end in the template, never in a lost report
            failure = _classify(error)
            if failure.status == "rate_limited":
                self.circuit.record_rate_limited()
            else:
                self.circuit.record_other()
            raise failure from None
        finally:
            self.metrics.latency.labels(OPERATION).observe(time.perf_counter() - started)
        self.circuit.record_other()
        if not isinstance(text, str) or not text:
            raise AnswerRejected("the answer has no text (blocked or empty)")
        return text

    def _fallback(self, alert: Alert, context: Context, status: SummaryStatus, reason: str) -> Summary:
        self.metrics.summaries.labels(status).inc()
        self.metrics.subjects.labels("fallback", SUBJECT_TYPE).inc()
        log.warning("template summary used: %s", reason, extra={"alertname": alert.name, "ai_status": status})
        return template_summary(alert, context, reason)
