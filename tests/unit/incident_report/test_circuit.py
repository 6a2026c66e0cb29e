"""Repeated 429s open the circuit for a while; one trial call after the pause decides what comes next."""

from __future__ import annotations

from incident_report.circuit import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_circuit_opens_after_the_threshold_of_consecutive_429s() -> None:
    clock = Clock()
    circuit = CircuitBreaker(threshold=3, open_seconds=60, clock=clock)
    for _ in range(2):
        assert circuit.allow()
        circuit.record_rate_limited()
    assert not circuit.is_open
    circuit.record_rate_limited()
    assert circuit.is_open
    assert not circuit.allow()


def test_another_answer_resets_the_count() -> None:
    circuit = CircuitBreaker(threshold=2, open_seconds=60, clock=Clock())
    circuit.record_rate_limited()
    circuit.record_other()
    circuit.record_rate_limited()
    assert not circuit.is_open


def test_after_the_pause_one_trial_goes_out_and_its_answer_decides() -> None:
    clock = Clock()
    circuit = CircuitBreaker(threshold=1, open_seconds=60, clock=clock)
    circuit.record_rate_limited()
    clock.now += 61
    assert circuit.allow()  # the trial
    assert not circuit.allow()  # only one at a time
    circuit.record_rate_limited()  # still throttled: open again at once
    assert not circuit.allow()
    clock.now += 61
    assert circuit.allow()
    circuit.record_other()
    assert circuit.allow()
    assert circuit.allow()
