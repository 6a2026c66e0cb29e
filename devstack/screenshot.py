"""Pictures of the demo's emails for the README, rendered by headless Chromium.

    python -m devstack.screenshot demo-output docs/images

takes the first alert email and the first incident report the demo wrote and
saves ``alert-email.png`` and ``incident-report.png``. Chromium comes from
Debian (``apt-get install chromium``); this is a maintainer's tool, not a test.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the machine's network is closed; background fetches only fail
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
PICTURES = {"alert-email.png": ("*-alert.html", 620), "incident-report.png": ("*-incident_report.html", 900)}
PREFERRED = "PodDown"  # the critical story reads best


def render(html: Path, png: Path, height: int, width: int = 900) -> None:
    with tempfile.TemporaryDirectory(prefix="whooper-chromium-") as profile:
        subprocess.run(
            [
                "chromium",
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for picture, (pattern, height) in PICTURES.items():
        found = sorted(source.glob(pattern), key=lambda path: (PREFERRED not in path.read_text(), path.name))
        if not found:
            print(f"no {pattern} in {source}: run nox -s demo first")
            return 1
        render(found[0], target / picture, height)
        print(f"{target / picture} from {found[0].name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
