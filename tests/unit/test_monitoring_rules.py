"""The alert rules as a reader of the PrometheusRule and the runbook checks them (no network)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.monitoring import MONITORING_DIR, alerting_rules
from pod_exporter.failures import KINDS

RUNBOOK_URL = "https://github.com/whooper/whooper-monitoring/blob/main/monitoring/runbook.md"

# The alerts the design asks for, by name.
EXPECTED_ALERTS = {
    # functions
    "WhooperBackendDown",
    "WhooperHighErrorRate",
    "WhooperSlowRequests",
    "WhooperHighMemoryUsage",
    "WhooperHighCPUUsage",
    # Kubernetes
    "PodDown",
    "PodCrashLooping",
    "PodPending",
    "HighPodMemory",
    "HighPodCPU",
    # AI, email, incidents
    "GeminiAPIErrors",
    "SlowAIResponses",
    "EmailServiceUnreachable",
    "HighIncidentRate",
    "HighMTTR",
    # the serverless pipeline
    "Watchdog",
    "WhooperPodExporterStale",
    "WhooperPodExporterMissing",
    "WhooperPodExporterPushFailing",
    "WhooperPodExporterErrors",
    "WhooperEventsDeadLettered",
}

RULES = alerting_rules()
RULES_BY_NAME = {rule["alert"]: rule for rule in RULES}


def _runbook_sections() -> dict[str, str]:
    text = (MONITORING_DIR / "runbook.md").read_text()
    parts = re.split(r"^## (\S+)\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _promtool_tests() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = []
    for path in sorted((MONITORING_DIR / "tests").glob("*.test.yaml")):
        tests.extend(yaml.safe_load(path.read_text())["tests"])
    return tests


def _minutes(duration: str) -> int:
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?", duration)
    assert duration, "empty duration"
    assert match, f"unexpected duration {duration!r}"
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_every_alert_of_the_design_is_defined_once() -> None:
    names = [rule["alert"] for rule in RULES]
    assert len(names) == len(set(names)), "an alert name is used twice"
    assert set(names) == EXPECTED_ALERTS


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_alert_carries_severity_summary_description_action_and_runbook(name: str) -> None:
    rule = RULES_BY_NAME[name]
    assert rule["labels"]["severity"] in {"critical", "warning", "none"}
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "action", "runbook_url"}
    assert "{{" not in annotations["summary"], "the summary is static, so notifications group under it"
    assert "{{" in annotations["description"], "the description names what fired"
    assert annotations["action"].strip()
    assert annotations["runbook_url"] == f"{RUNBOOK_URL}#{name.lower()}"


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_runbook_has_a_full_section_for_the_alert(name: str) -> None:
    section = _runbook_sections()[name]  # the heading GitHub turns into the anchor #<name lowercased>
    for part in ("**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Mitigation.**"):
        assert part in section, f"runbook section {name} lacks {part}"


def test_runbook_explains_every_kind_of_pod_exporter_error() -> None:
    section = _runbook_sections()["WhooperPodExporterErrors"]
    missing = [kind for kind in KINDS if f"`{kind}`" not in section]
    assert not missing, f"the runbook does not say what these error kinds mean: {missing}"


def test_runbook_has_no_section_without_an_alert() -> None:
    assert set(_runbook_sections()) == EXPECTED_ALERTS


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_promtool_tests_cover_the_alert_on_both_sides_of_its_for(name: str) -> None:
    """Silent one evaluation before firing, firing with every label and annotation spelled out."""
    rule = RULES_BY_NAME[name]
    firing_checked = False
    for test in _promtool_tests():
        interval = _minutes(test.get("interval", "1m"))
        evaluations = [case for case in test["alert_rule_test"] if case["alertname"] == name]
        silent_at = {_minutes(case["eval_time"]) for case in evaluations if not case.get("exp_alerts")}
        for case in evaluations:
            if not case.get("exp_alerts"):
                continue
            for expected in case["exp_alerts"]:
                assert set(expected["exp_annotations"]) == set(rule["annotations"])
                assert expected["exp_labels"]["severity"] == rule["labels"]["severity"]
            if name != "Watchdog":  # always firing: there is no "before"
                assert _minutes(case["eval_time"]) - interval in silent_at, (
                    f"{test['name']}: no silent evaluation one interval before {case['eval_time']}"
                )
            firing_checked = True
    assert firing_checked, f"no promtool test sees {name} fire"


def test_promtool_test_files_load_the_extracted_rules() -> None:
    for path in (MONITORING_DIR / "tests").glob("*.test.yaml"):
        assert yaml.safe_load(path.read_text())["rule_files"] == ["rules.yaml"], path.name


def test_rule_groups_have_distinct_names() -> None:
    groups = yaml.safe_load(Path(MONITORING_DIR / "prometheusrule.yaml").read_text())["spec"]["groups"]
    names = [group["name"] for group in groups]
    assert len(names) == len(set(names))
