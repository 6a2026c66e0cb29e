"""Serve one of the project's functions with functions-framework in its own process, as in production.

The process gets exactly the environment given (plus what Python needs), so a
test states the function's configuration in full. It is stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import requests

from devstack.ports import free_port
from devstack.stack import wait_until

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO / "functions"


class ServedFunction:
    """``functions-framework --source functions/<name>/main.py --target handle`` on a free port."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        source: Path | None = None,
        poll_interval: float = 0.2,
    ) -> None:
        self.name = name
        self.source = source or FUNCTIONS / name / "main.py"  # another source: the bench's bare baseline
        self.poll_interval = poll_interval  # the bench polls finely to time a cold start
        self.port = port or free_port()
        self._env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        handle, path = tempfile.mkstemp(prefix=f"whooper-{name}-", suffix=".log")
        os.close(handle)
        self._log_path = Path(path)  # one log across restarts: a test may stop and start the function again

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._log_path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, wait: float = 30.0) -> ServedFunction:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "PYTHONPATH": str(FUNCTIONS),
            "PYTHONUNBUFFERED": "1",
            **self._env,
        }
        # The child keeps its own copy of the descriptor; ours is closed as soon as it has started.
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "functions_framework",
                    "--source",
                    str(self.source),
                    "--target",
                    "handle",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(
                self._answers, timeout=wait, interval=self.poll_interval, what=f"{self.name} answering on {self.url}"
            )
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"{self.name} did not start; its log:\n{self.logs()[-3000:]}") from None
        return self

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self._process.returncode}")
        requests.get(f"{self.url}/healthz", timeout=1)
        return True

    def stop(self) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def __enter__(self) -> ServedFunction:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
