"""The real Prometheus stack end to end: push, scrape, rule, alert, webhook to the host."""

from __future__ import annotations

from collections.abc import Callable

import requests

from devstack.receiver import Receiver
from devstack.stack import query, wait_until
from tests.conftest import Stack


def test_pushed_metric_fires_rule_and_alertmanager_posts_webhook(
    stack: Stack, receiver: Callable[[], Receiver]
) -> None:
    webhook = receiver()
    alertmanager = stack.alertmanager(
        {
            "route": {"receiver": "host", "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "host", "webhook_configs": [{"url": f"{webhook.url}/", "send_resolved": True}]}],
        }
    )
    pushgateway = stack.pushgateway()
    rules = {
        "groups": [
            {
                "name": "stack-test",
                "rules": [
                    {
                        "alert": "StackTestFailedPods",
                        "expr": "whooper_pods_failed > 0",
                        "labels": {"severity": "critical"},
                        "annotations": {"summary": "{{ $value }} failed pod(s)"},
                    }
                ],
            }
        ]
    }
    prometheus = stack.prometheus(
        [{"job_name": "pushgateway", "honor_labels": True, "static_configs": [{"targets": [pushgateway.address]}]}],
        rules={"stack-test.yml": rules},
        alertmanager=alertmanager,
    )

    pushed = requests.put(
        f"{pushgateway.url}/metrics/job/whooper-pod-exporter",
        data="# TYPE whooper_pods_failed gauge\nwhooper_pods_failed 2\n",
        timeout=5,
    )
    assert pushed.status_code == 200

    scraped = wait_until(lambda: query(prometheus, "whooper_pods_failed"), timeout=30, what="metric scraped")
    assert scraped[0]["value"][1] == "2"
    assert scraped[0]["metric"]["job"] == "whooper-pod-exporter"  # honor_labels keeps the pushed job

    (posted, *_) = webhook.wait_for(1, timeout=60)
    notification = posted.json()
    assert notification["version"] == "4"
    assert notification["status"] == "firing"
    (alert,) = notification["alerts"]
    assert alert["labels"]["alertname"] == "StackTestFailedPods"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["summary"] == "2 failed pod(s)"
