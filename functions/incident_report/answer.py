"""The incident summary, and the checks a model's answer passes before anyone sees it.

A model's answer is data too: it is parsed against the schema, stripped of
links, images and HTML, redacted, its evidence quotes are checked against the
context it was given, and it is rejected when it names pods or namespaces the
context never mentioned (a sign it made them up or was steered by the data).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from incident_report import prompt
from incident_report.redact import redact

Source = Literal["gemini", "template"]

# Models asked for JSON sometimes still wrap it in a Markdown code fence.
_CODE_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>|<!--.*?-->", re.DOTALL)
_URL = re.compile(r"(?i)\b(?:(?:https?|ftp|file|javascript|data|mailto):\S+|www\.\S+)")
_ANGLE_URL = re.compile(r"<(?:https?|mailto):[^>]*>", re.IGNORECASE)
_NAME_TOKEN = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
_QUOTES = "`'\"\u201c\u201d\u2018\u2019"  # straight, back and curly quotes around a name or a quote
_NAME = rf"[{_QUOTES}]?([a-z0-9](?:[a-z0-9./-]*[a-z0-9])?)"
# After "pod", only what looks like a pod name (generated names have a hyphen or digit) or is quoted: "the pod crashes".
_POD_MENTION = re.compile(
    rf"(?i)\bpods?\s+(?:named\s+|called\s+)?(?:[{_QUOTES}]([a-z0-9][a-z0-9./-]*[a-z0-9])"
    r"|([a-z0-9]*[-0-9/][a-z0-9./-]*[a-z0-9]))"
)
_NAMESPACE_MENTION = re.compile(r"(?i)(?:\bnamespaces?|(?<!\S)-n|(?<!\S)--namespace(?:=|\s))\s*" + _NAME)
_NAMESPACE_BEFORE = re.compile(
    rf"(?i)\b(?:in|from)\s+(?:the\s+)?[{_QUOTES}]?([a-z0-9][a-z0-9-]*[a-z0-9])[{_QUOTES}]?\s+namespace\b"
)
# Words that follow "pod"/"namespace" in ordinary prose and are not names.
_PROSE = frozenset(
    {
        *("a", "an", "the", "and", "or", "of", "in", "to", "is", "was", "are", "were", "be", "been", "has", "have"),
        *("had", "its", "it", "this", "that", "these", "those", "which", "with", "for", "from", "on", "by", "as"),
        *("at", "not", "no", "if", "restarts", "restarted", "restarting", "crashed", "crashing", "failed", "failing"),
        *("keeps", "kept", "logs", "log", "events", "event", "status", "phase", "name", "names", "level", "scope"),
        *("quota", "limits", "limit", "resources", "itself", "again", "only", "still", "also", "may", "might"),
        *("will", "would", "could", "should", "can", "did", "does", "do", "so", "then"),
    }
)


class AnswerRejected(ValueError):
    """The model's answer cannot be used; the message says why (for the log and the metric)."""


@dataclass(frozen=True)
class Evidence:
    claim: str
    quote: str


@dataclass(frozen=True)
class Summary:
    summary: str
    likely_cause: str
    evidence: tuple[Evidence, ...]
    next_steps: tuple[str, ...]
    subject: str  # suggested subject, "" when none was usable
    source: Source
    fallback_reason: str = ""  # why the template was used; "" for a model's answer


def plain_text(value: str) -> str:
    """Links, images and HTML removed, whitespace collapsed, secrets redacted."""
    value = _MD_IMAGE.sub(lambda m: m[1], value)
    value = _MD_LINK.sub(lambda m: m[1], value)
    value = _ANGLE_URL.sub("[link removed]", value)
    value = _HTML_TAG.sub("", value)
    value = _URL.sub("[link removed]", value)
    return redact(" ".join(value.split()))


def _normalised(value: str) -> str:
    return " ".join(value.split()).lower()


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _string(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise AnswerRejected(f"{key} is not a string")
    return _clip(plain_text(value), limit)


def _strings(data: dict[str, Any], key: str, count: int, limit: int) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AnswerRejected(f"{key} is not a list of strings")
    cleaned = (_clip(plain_text(item), limit) for item in value[:count])
    return tuple(item for item in cleaned if item)


def unknown_names(text: str, known: set[str]) -> set[str]:
    """Pod and namespace names mentioned in ``text`` that are not in ``known``."""
    found: set[str] = set()
    for pattern in (_POD_MENTION, _NAMESPACE_MENTION, _NAMESPACE_BEFORE):
        for match in pattern.finditer(text):
            name = next(group for group in match.groups() if group).lower().rstrip(".")
            if name in _PROSE:
                continue
            parts = name.split("/") if "/" in name else [name]
            found.update(p for p in parts if p and p not in known and p not in _PROSE)
    return found


def _evidence(data: dict[str, Any], data_text: str) -> tuple[tuple[Evidence, ...], int]:
    """Evidence items whose quote appears in the context, and how many were offered."""
    items = data.get("evidence")
    if not isinstance(items, list):
        raise AnswerRejected("evidence is not a list")
    haystack = _normalised(data_text)
    kept: list[Evidence] = []
    for item in items[: prompt.MAX_EVIDENCE]:
        if not (isinstance(item, dict) and isinstance(item.get("claim"), str) and isinstance(item.get("quote"), str)):
            raise AnswerRejected("an evidence item is not {claim, quote}")
        quote = item["quote"].strip().strip(_QUOTES).strip(" .…")
        if not quote or _normalised(quote) not in haystack:
            continue  # a quote the context does not contain is no evidence
        claim = _clip(plain_text(item["claim"]), prompt.MAX_STEP_CHARS)
        kept.append(Evidence(claim, _clip(plain_text(quote), prompt.MAX_QUOTE_CHARS)))
    return tuple(kept), len(items)


def known_names(data_text: str) -> set[str]:
    """Every name-like token of the data the model was given: the pods and namespaces an answer may mention."""
    return set(_NAME_TOKEN.findall(data_text.lower()))


def validate_answer(raw: str, data_text: str) -> Summary:
    """The model's JSON answer as a Summary, or AnswerRejected saying why it cannot be used.

    ``data_text`` is the data block the model was given: quotes must come from it, names must appear in it.
    """
    known = known_names(data_text)
    fenced = _CODE_FENCE.match(raw)
    try:
        data = json.loads(fenced[1] if fenced else raw)
    except (TypeError, ValueError):
        raise AnswerRejected("the answer is not JSON") from None
    if not isinstance(data, dict):
        raise AnswerRejected("the answer is not a JSON object")
    missing = [key for key in prompt.RESPONSE_SCHEMA["required"] if key not in data]
    if missing:
        raise AnswerRejected(f"the answer lacks {', '.join(missing)}")
    summary = _string(data, "summary", prompt.MAX_SUMMARY_CHARS)
    if not summary:
        raise AnswerRejected("the summary is empty")
    cause = _string(data, "likely_cause", prompt.MAX_CAUSE_CHARS)
    steps = _strings(data, "next_steps", prompt.MAX_STEPS, prompt.MAX_STEP_CHARS)
    evidence, offered = _evidence(data, data_text)
    if offered and not evidence:
        raise AnswerRejected(f"none of the {offered} evidence quotes appears in the context")
    prose = "\n".join([summary, cause, *steps, *(e.claim for e in evidence)])
    invented = unknown_names(prose, known)
    if invented:
        raise AnswerRejected(f"the answer names pods or namespaces not in the context: {', '.join(sorted(invented))}")
    return Summary(summary, cause, evidence, steps, suggested_subject(data.get("subject"), known), "gemini")


def suggested_subject(value: Any, known_names: set[str]) -> str:
    """The model's subject when usable (plain, short, naming nothing unknown), else ""."""
    if not isinstance(value, str):
        return ""
    subject = _clip(plain_text(value), prompt.MAX_SUBJECT_CHARS)
    if "[link removed]" in subject or unknown_names(subject, known_names):
        return ""
    return subject
