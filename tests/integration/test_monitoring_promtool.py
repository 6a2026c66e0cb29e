"""promtool on the rules of monitoring/prometheusrule.yaml: they load, and every alert's tests pass.

promtool is Debian's, unpacked (not installed) by devstack.engine.debian_tool.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devstack.monitoring import MONITORING_DIR, alerting_rules, promtool, rule_groups

TEST_FILES = sorted(path.name for path in (MONITORING_DIR / "tests").glob("*.test.yaml"))


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PrometheusRule's groups as rules.yaml, beside copies of the promtool test files."""
    directory = tmp_path_factory.mktemp("rules")
    (directory / "rules.yaml").write_text(yaml.safe_dump(rule_groups(), sort_keys=False))
    for name in TEST_FILES:
        shutil.copy(MONITORING_DIR / "tests" / name, directory / name)
    return directory


def _promtool(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool()), *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False)


def test_promtool_check_rules_accepts_every_rule(rules_dir: Path) -> None:
    result = _promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerting_rules())} rules found" in result.stdout


def test_every_rule_group_has_a_test_file() -> None:
    groups = {group["name"].removeprefix("whooper-") for group in rule_groups()["groups"]}
    assert {name.removesuffix(".test.yaml") for name in TEST_FILES} == groups


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_promtool_rule_tests_pass(rules_dir: Path, test_file: str) -> None:
    result = _promtool("test", "rules", test_file, cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_wrong_expectation_fails(rules_dir: Path) -> None:
    """The harness can fail: PodDown expected one evaluation too early is reported, with what fired."""
    tests = yaml.safe_load((MONITORING_DIR / "tests" / "pods.test.yaml").read_text())
    (pod_down,) = [test for test in tests["tests"] if test["name"].startswith("PodDown")]
    silent, firing = pod_down["alert_rule_test"]
    silent["exp_alerts"] = firing["exp_alerts"]
    tests["tests"] = [pod_down]
    (rules_dir / "wrong.test.yaml").write_text(yaml.safe_dump(tests))
    try:
        result = _promtool("test", "rules", "wrong.test.yaml", cwd=rules_dir)
    finally:
        (rules_dir / "wrong.test.yaml").unlink()
    assert result.returncode != 0
    assert "alertname: PodDown, time: 1m" in result.stdout + result.stderr
