"""README's "Deploying" section names files and objects of knative/ that exist, so its steps work as written."""

from __future__ import annotations

import re

from tests.unit import knative_build as kb

README = kb.ROOT / "README.md"


def _deploying() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Deploying")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_every_knative_file_the_readme_names_exists() -> None:
    named = set(re.findall(r"knative/[\w./-]+\.yaml", _deploying()))
    assert named, "the Deploying section names no knative/ file"
    missing = sorted(path for path in named if not (kb.ROOT / path).is_file())
    assert not missing, f"README names files that do not exist: {missing}"


# `kubectl -n whooper create secret generic NAME --from-literal=KEY=... [\ newline] --from-literal=...`
CREATE_SECRET = re.compile(r"-n whooper create secret generic ([\w-]+)((?: \\\n\s*)?(?: --from-literal=\w+=\S+)+)")


def test_the_readme_sets_every_key_of_every_secret_template() -> None:
    created = set(CREATE_SECRET.findall(_deploying()))
    keys_set = {name: set(re.findall(r"--from-literal=(\w+)=", literals)) for name, literals in created}
    secrets = {s["metadata"]["name"]: set(s["stringData"]) for s in kb.of_kind(kb.built(), "Secret")}
    assert keys_set == secrets
