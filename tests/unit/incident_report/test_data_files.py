"""The test events are exactly what alert_webhook sends for their alerts (whooper_common.events.alert_event)."""

from __future__ import annotations

import pytest
from cloudevents.conversion import to_dict

from tests.incident_report_data import NO_POD_FIRING, POD_FIRING, POD_RESOLVED, event_dict
from whooper_common.alertmanager import Notification
from whooper_common.events import alert_event


@pytest.mark.parametrize("name", [POD_FIRING, POD_RESOLVED, NO_POD_FIRING])
def test_each_file_is_an_alert_event_as_alert_webhook_makes_it(name: str) -> None:
    stored = event_dict(name)
    data = stored["data"]
    alert = {key: value for key, value in data.items() if key not in ("receiver", "groupKey", "externalURL")}
    notification = Notification.from_dict(
        {
            "version": "4",
            "status": data["status"],
            "receiver": data["receiver"],
            "groupKey": data["groupKey"],
            "externalURL": data["externalURL"],
            "alerts": [alert],
        }
    )
    assert to_dict(alert_event(notification.alerts[0], notification, "alert_webhook")) == stored
