"""The record of sent notifications: same notification same key, bounded, expiring."""

from __future__ import annotations

import dataclasses
import threading

from alert_webhook.dedupe import SentRecord, notification_key
from tests.alertmanager_payloads import payload
from whooper_common.alertmanager import Notification


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_key_is_the_same_for_a_retry_and_differs_for_another_notification() -> None:
    first = Notification.from_dict(payload("firing_mixed"))
    reordered = payload("firing_mixed")
    reordered["alerts"].reverse()
    assert notification_key(first) == notification_key(Notification.from_dict(reordered))
    resolved = dataclasses.replace(first, status="resolved")
    fewer = dataclasses.replace(first, alerts=first.alerts[:2])
    other_group = dataclasses.replace(first, group_key='{}:{namespace="cart"}')
    keys = {notification_key(n) for n in (first, resolved, fewer, other_group)}
    assert len(keys) == 4


def test_keys_expire_after_the_ttl() -> None:
    clock = Clock()
    record = SentRecord(ttl_seconds=60, max_entries=10, clock=clock)
    record.add("a")
    clock.now += 59
    assert "a" in record
    clock.now += 2
    assert "a" not in record
    assert len(record) == 0


def test_record_keeps_at_most_max_entries_dropping_the_oldest() -> None:
    record = SentRecord(ttl_seconds=60, max_entries=3, clock=Clock())
    for key in "abcd":
        record.add(key)
    assert [k in record for k in "abcd"] == [False, True, True, True]
    record.add("b")  # re-adding makes it young again
    record.add("e")
    assert [k in record for k in "bcde"] == [True, False, True, True]
    assert len(record) == 3


def test_hold_serialises_work_on_one_key_and_not_on_others() -> None:
    record = SentRecord()
    entered = {"k": threading.Event(), "other": threading.Event()}

    def enter(key: str) -> None:
        with record.hold(key):
            entered[key].set()

    with record.hold("k"):
        threads = [threading.Thread(target=enter, args=(key,)) for key in entered]
        for thread in threads:
            thread.start()
        assert entered["other"].wait(5)  # another notification is not held up
        assert not entered["k"].wait(0.3)  # the same one waits while the first attempt holds it
    assert entered["k"].wait(5)
    for thread in threads:
        thread.join(5)
