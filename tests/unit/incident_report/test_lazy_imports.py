"""A cold start loads neither google.genai nor kubernetes: they are imported when first needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"


def _loaded_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], env={"PYTHONPATH": str(FUNCTIONS)}, capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_importing_main_loads_neither_the_ai_client_nor_the_kubernetes_client() -> None:
    loaded = _loaded_after("import incident_report.main")
    assert "incident_report.main" in loaded
    assert "incident_report.summarize" in loaded
    assert "google.genai" not in loaded
    assert not any(name == "kubernetes" or name.startswith("kubernetes.") for name in loaded)


def test_building_the_app_without_a_key_still_loads_neither(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    env = {"KUBECONFIG": str(kubeconfig), "SMTP_HOST": "127.0.0.1", "ALERT_EMAIL": "oncall@example.com"}
    loaded = _loaded_after(f"from incident_report.app import build\nbuild({env!r})")
    assert "incident_report.app" in loaded
    assert "google.genai" not in loaded
    assert "kubernetes" not in loaded
