"""Field and label selectors, parsed and matched as the API server does."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devstack.kube_api.wire import StatusError

if TYPE_CHECKING:
    from devstack.kube_api.store import Stored


_FIELD_TERM = re.compile(r"^\s*([\w.]+)\s*(==|!=|=)\s*(.*?)\s*$")
_LABEL_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w.-]*)|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?)"
    r"\s*(?:,|$)"
)


@dataclass(frozen=True)
class _LabelTerm:
    """One requirement of a label selector."""

    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator == "exists":
            return value is not None
        if self.operator == "!":
            return value is None
        if self.operator in ("=", "in"):
            return value in self.values
        return value not in self.values  # "!=" and "notin" also match objects without the label


@dataclass(frozen=True)
class Selector:
    """A parsed field and label selector: all its terms must hold."""

    fields: tuple[tuple[str, str, str], ...] = ()  # (field, operator, value)
    labels: tuple[_LabelTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.fields and not self.labels

    def matches(self, stored: Stored) -> bool:
        for name, operator, value in self.fields:
            if (stored.fields.get(name, "") == value) != (operator != "!="):
                return False
        return all(term.matches(stored.labels) for term in self.labels)


def parse_selectors(field_selector: str | None, label_selector: str | None, supported: Iterable[str]) -> Selector:
    allowed = set(supported)
    fields = []
    for term in filter(None, (field_selector or "").split(",")):
        match = _FIELD_TERM.match(term)
        if not match:
            raise StatusError(400, f"invalid selector: '{field_selector}'; can't understand '{term}'")
        name, operator, value = match.groups()
        if name not in allowed:
            raise StatusError(400, f"field label not supported: {name}")
        fields.append((name, operator, value))
    return Selector(tuple(fields), tuple(_parse_labels(label_selector or "")))


def _parse_labels(selector: str) -> list[_LabelTerm]:
    terms: list[_LabelTerm] = []
    position = 0
    while position < len(selector):
        match = _LABEL_TERM.match(selector, position)
        if not match or match.end() == position:
            raise StatusError(400, f"unable to parse requirement: found '{selector[position:]}'")
        position = match.end()
        if match["absent"]:
            terms.append(_LabelTerm(match["absent"], "!"))
        elif match["set"]:
            values = frozenset(value.strip() for value in match["values"].split(","))
            terms.append(_LabelTerm(match["key"], match["set"], values))
        elif match["op"]:
            operator = "!=" if match["op"] == "!=" else "="
            terms.append(_LabelTerm(match["key"], operator, frozenset([match["value"]])))
        else:
            terms.append(_LabelTerm(match["key"], "exists"))
    return terms
