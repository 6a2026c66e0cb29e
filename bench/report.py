"""The one table ``nox -s bench`` prints and writes to ``bench/results.md``."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results.md"
README = REPO / "README.md"
# The README quotes the latest table between these lines; each run rewrites what lies between them.
QUOTE_START = "<!-- bench/results.md: written by nox -s bench -->"
QUOTE_END = "<!-- end of bench/results.md -->"


@dataclass(frozen=True)
class Row:
    """One measurement against its baseline; ``holds`` is None where no goal is judged on this row."""

    measurement: str
    case: str
    result: str
    baseline: str
    ratio: str
    goal: str = ""
    holds: bool | None = None


def verdict(holds: bool | None) -> str:
    return {True: "yes", False: "**no**", None: ""}[holds]


def machine() -> str:
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    load = os.getloadavg()[1]  # other work on a shared machine slows everything; the ratios absorb most of it
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, {len(os.sched_getaffinity(0))} CPU(s) "
        f"(load average {load:.1f} over 5 minutes), Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}"
    )


def render(rows: Sequence[Row], notes: Sequence[str]) -> str:
    header = ["measurement", "case", "result", "baseline", "ratio", "goal", "holds"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        cells = [row.measurement, row.case, row.result, row.baseline, row.ratio, row.goal, verdict(row.holds)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    text = "\n".join(lines) + "\n"
    if notes:
        text += "\n" + "\n".join(f"- {note}" for note in notes) + "\n"
    return text


def write(rows: Sequence[Row], notes: Sequence[str], path: Path = RESULTS, readme: Path = README) -> str:
    """The Markdown file the README quotes (when and where it ran, the table, the notes), and the quote."""
    body = f"Measured {machine()}.\n\n" + render(rows, notes)
    path.write_text(
        "# Benchmark results\n\n"
        "Written by `nox -s bench`. Ratios compare with a baseline measured in the same run on the same machine "
        "and are the verdict; absolute times are for context.\n\n" + body
    )
    _quote(readme, body)
    sys.stdout.write(body)
    return body


def _quote(readme: Path, body: str) -> None:
    if not readme.exists():
        return
    text = readme.read_text()
    start, end = text.find(QUOTE_START), text.find(QUOTE_END)
    if start < 0 or end < start:
        return
    readme.write_text(text[: start + len(QUOTE_START)] + "\n" + body + text[end:])
