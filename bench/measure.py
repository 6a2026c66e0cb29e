"""Small statistics and process helpers the measurements share."""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO / "functions"


class BenchError(RuntimeError):
    """A measurement could not be taken; the message says why (and carries the process's last output)."""


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100): an observed value, never an interpolation."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def seconds(value: float) -> str:
    if value < 0.01:
        return f"{value * 1000:.1f} ms"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def megabytes(kib: float) -> str:
    return f"{kib / 1024:.0f} MB"


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a child process needs to import the functions and devstack, plus the given configuration."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": f"{FUNCTIONS}{os.pathsep}{REPO}",
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


def run_json(args: Sequence[str], env: Mapping[str, str], timeout: float) -> dict[str, Any]:
    """Run ``python args...`` in a fresh process and return the JSON object it prints last."""
    try:
        done = subprocess.run(
            [sys.executable, *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"{' '.join(args)} took more than {timeout:.0f} s") from error
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class Background:
    """A helper process that prints ``ready <detail>`` once it serves; stopped by PID (its whole group)."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], name: str) -> None:
        self.name = name
        self._args = list(args)
        self._env = dict(env)
        self._process: subprocess.Popen[str] | None = None
        self._drainer: threading.Thread | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self._tail: list[str] = []
        self.ready_line = ""

    def start(self, timeout: float = 120.0) -> Background:
        self._process = subprocess.Popen(
            [sys.executable, *self._args],
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._drainer = threading.Thread(target=self._drain, name=f"drain-{self.name}", daemon=True)
        self._drainer.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                if self._process.poll() is not None:
                    break
                continue
            if line.startswith("ready"):
                self.ready_line = line.strip()
                return self
        tail = "".join(self._tail[-30:])
        exited = self._process.poll() if self._process else None
        why = f"exited with {exited}" if exited is not None else f"did not print 'ready' within {timeout:.0f} s"
        self.stop()
        raise BenchError(f"{self.name} {why}; its output:\n{tail}")

    def _drain(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._tail = [*self._tail[-100:], line]
            self._lines.put(line)

    def output_line(self, prefix: str) -> str:
        """The last line of output that starts with ``prefix`` (after :meth:`stop`, its closing words too)."""
        return next((line.strip() for line in reversed(self._tail) if line.startswith(prefix)), "")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if self._drainer is not None:
            self._drainer.join(timeout=5)

    def __enter__(self) -> Background:
        return self if self._process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
