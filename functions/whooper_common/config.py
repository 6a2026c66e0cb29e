"""Typed reads of configuration from an environment mapping.

Functions read their configuration when their app is built, from a mapping
handed in (``os.environ`` in production, a dict in tests), never at import
time. Every error names the variable and says what a valid value looks like.
"""

from __future__ import annotations

from collections.abc import Mapping

Env = Mapping[str, str]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message says which and how to fix it."""


def get_str(env: Env, name: str, default: str = "") -> str:
    return env.get(name, default).strip()


def require_str(env: Env, name: str, hint: str) -> str:
    value = get_str(env, name)
    if not value:
        raise ConfigError(f"{name} is not set: {hint}")
    return value


def get_bool(env: Env, name: str, default: bool = False) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use true or false")


def get_int(env: Env, name: str, default: int, minimum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def get_float(env: Env, name: str, default: float, minimum: float | None = None) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def get_list(env: Env, name: str) -> list[str]:
    """A comma-separated list; blanks and surrounding spaces dropped."""
    return [item.strip() for item in env.get(name, "").split(",") if item.strip()]
