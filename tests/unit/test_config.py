"""Configuration errors name the variable and say what is expected."""

from __future__ import annotations

import pytest

from whooper_common.config import ConfigError, get_bool, get_float, get_int, get_list, require_str


def test_bool_accepts_common_spellings() -> None:
    assert get_bool({"X": "True"}, "X") is True
    assert get_bool({"X": "0"}, "X") is False
    assert get_bool({}, "X", default=True) is True


def test_bool_rejects_garbage_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"SMTP_STARTTLS='maybe' is not a boolean"):
        get_bool({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS")


def test_numbers_are_parsed_and_bounded() -> None:
    assert get_int({"P": "587"}, "P", 25) == 587
    assert get_int({}, "P", 25) == 25
    assert get_float({"T": "2.5"}, "T", 1.0) == 2.5
    with pytest.raises(ConfigError, match="SMTP_PORT='smtp' is not an integer"):
        get_int({"SMTP_PORT": "smtp"}, "SMTP_PORT", 25)
    with pytest.raises(ConfigError, match="below the minimum"):
        get_float({"T": "-1"}, "T", 1.0, minimum=0)


def test_list_drops_blanks_and_spaces() -> None:
    assert get_list({"L": " a@x.io, ,b@x.io "}, "L") == ["a@x.io", "b@x.io"]
    assert get_list({}, "L") == []


def test_required_value_names_what_to_do() -> None:
    with pytest.raises(ConfigError, match=r"PUSHGATEWAY_URL is not set: e\.g\. http://pushgateway:9091"):
        require_str({"PUSHGATEWAY_URL": "  "}, "PUSHGATEWAY_URL", "e.g. http://pushgateway:9091")
