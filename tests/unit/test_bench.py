"""The bench's own pieces that a wrong number would come from: payloads, percentiles, the table and its quote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alert_webhook.dedupe import notification_key
from bench.measure import percentile
from bench.payloads import notification
from bench.report import QUOTE_END, QUOTE_START, Row, write
from whooper_common.alertmanager import Notification


@pytest.mark.parametrize("alerts", [1, 100, 1000])
def test_payloads_are_valid_notifications_with_the_asked_number_of_alerts(alerts: int) -> None:
    parsed = Notification.from_dict(json.loads(notification(alerts, 7)))

    assert len(parsed.alerts) == alerts
    assert parsed.status == "firing"
    assert len({alert.fingerprint for alert in parsed.alerts}) == alerts


def test_every_payload_is_a_new_notification_to_the_dedupe_record() -> None:
    keys = {notification_key(Notification.from_dict(json.loads(notification(1, sequence)))) for sequence in range(500)}

    assert len(keys) == 500


def test_percentile_is_an_observed_value_by_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]

    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_results_are_written_and_the_readme_quote_replaced(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n## Performance\n\n{QUOTE_START}\nold table\n{QUOTE_END}\n\n## After\n")
    results = tmp_path / "results.md"
    rows = [
        Row("cold start", "alert_webhook", "import 1 s", "import 2 s", "0.50x", "≤ 1.5x bare", True),
        Row("alert_webhook", "1 alert | one", "10/s", "bare: 20/s", "0.50x", "≥ 0.5x", False),
    ]

    write(rows, ["a note"], path=results, readme=readme)

    quoted = readme.read_text()
    assert "old table" not in quoted
    assert quoted.startswith("# Title\n\n## Performance\n\n")
    assert quoted.endswith(f"{QUOTE_END}\n\n## After\n")
    assert "| cold start | alert_webhook | import 1 s | import 2 s | 0.50x | ≤ 1.5x bare | yes |" in quoted
    assert "| alert_webhook | 1 alert \\| one | 10/s | bare: 20/s | 0.50x | ≥ 0.5x | **no** |" in quoted
    assert "- a note" in quoted
    assert results.read_text().startswith("# Benchmark results")
    assert "| cold start | alert_webhook |" in results.read_text()
