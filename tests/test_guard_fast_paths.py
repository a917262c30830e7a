"""The guard skips a walk only where the body's text shows it cannot find anything: at the edges
the skipped and the walked paths must agree."""

import json

import pytest

from bot.guard import MAX_DEPTH, BadRequest, check_slack


def nested(depth: int) -> bytes:
    """An app_home_opened event with a field nested `depth` containers deep, the body included."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    event = '{"type": "app_home_opened", "user": "U1"}'
    return f'{{"type": "event_callback", "event": {event}, "x": {inner}}}'.encode()


def test_a_body_exactly_as_deep_as_allowed_passes_and_one_level_deeper_is_refused():
    check_slack(nested(MAX_DEPTH), "application/json")
    with pytest.raises(BadRequest, match="nested deeper"):
        check_slack(nested(MAX_DEPTH + 1), "application/json")


def test_escapes_that_decode_to_ordinary_text_pass():
    event = {"type": "app_home_opened", "user": "U1", "tab": "caf\u00e9 \u2019"}
    body = json.dumps({"type": "event_callback", "event": event}).encode()  # ensure_ascii: \u escapes
    assert b"\\u00e9" in body
    assert check_slack(body, "application/json")["event"]["tab"] == "caf\u00e9 \u2019"
