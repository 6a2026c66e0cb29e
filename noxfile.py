"""Every task a person runs: ``nox`` (lint, typecheck, tests), ``nox -s demo``, ``nox -s bench``.

``nox -s tests`` needs nothing installed beforehand: the test fixtures install
podman and build the Prometheus stack images from Debian's packages when no
Docker engine answers (see devstack/engine.py).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
LINT_PATHS = ["functions", "devstack", "tests", "bench", "noxfile.py"]


def _install(session: nox.Session) -> None:
    session.install("-r", "requirements-dev.txt")
    session.install("--no-deps", "-e", ".")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy in strict mode over the functions, the shared package and devstack."""
    _install(session)
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """All tests, unit and integration. Arguments after ``--`` go to pytest (e.g. ``-- -m integration``)."""
    _install(session)
    # Any non-zero exit fails the session, pytest's 5 ("no tests ran") included: a run that tests nothing fails.
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The whole pipeline on this machine: a pod fails, another crash-loops, both recover (about two minutes)."""
    _install(session)
    session.run("python", "-m", "devstack.demo", *session.posargs, env={"PYTHONPATH": "functions:."})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Speed and cost against baselines measured in the same run; prints one table and writes bench/results.md.

    Not a default session: it takes several minutes and needs the same container engine as the integration
    tests. ``-- --only webhook cold-start`` runs a subset; ``-- --no-write`` leaves bench/results.md alone.
    """
    _install(session)
    session.install("-r", "bench/requirements.txt")
    session.run("python", "-m", "bench.run", *session.posargs)
