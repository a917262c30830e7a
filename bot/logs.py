"""Logging set-up that never lets a secret through, as text lines or JSON lines.

Every log record, from our code or any library, is checked when it is created: a configured
secret (Slack tokens and signing secret, the Anthropic key, the Microsoft app password, the metrics
token) or anything shaped like a Slack or Anthropic token is replaced by `***` before any handler
sees it.

`COACH_LOG_FORMAT=json` writes one JSON object a line (python-json-logger, so extras, exceptions and
values JSON cannot hold are handled by a maintained library rather than by us): `ts`, `level`,
`logger`, `msg`, the record's structured extras (a turn's `conversation` pseudonym, `channel`,
`flow`, `outcome`, `latency_ms`) and an exception's traceback as one `exc` string.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.config import Settings

TOKEN_SHAPES = re.compile(r"\b(?:xox[abposr]-[\w-]+|xapp-[\w-]+|sk-ant-[\w-]+)")
_secrets: set[str] = set()
_installed = False


def secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.anthropic_api_key,
        settings.teams_app_password,
        settings.metrics_token,
    ]
    found = [v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value()]
    password = urlsplit(settings.postgres_url or "").password
    return [*found, password] if password else found


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "***")
    return TOKEN_SHAPES.sub("***", text)


def install_redaction(secrets: Iterable[str]) -> None:
    """Redact these secrets (and token-shaped strings) from every log record from now on."""
    global _installed
    _secrets.update(s for s in secrets if len(s) >= 6)
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string: leave it to logging to report
            return record
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(redacting_record)
    _installed = True


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines repeat, per call, what a coach line or a metric already says: the
# Anthropic SDK's HTTP client logs every request ("HTTP Request: POST …/v1/messages 200"), beside
# the `claude usage` line and `coach_claude_calls_total`. Their warnings still show.
QUIET_LOGGERS = ("httpx", "httpx2")


def json_formatter() -> logging.Formatter:
    """One JSON object a line: ts (ISO 8601, UTC), level, logger, msg, extras, exc."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        timestamp="ts",
        rename_fields={"levelname": "level", "name": "logger", "message": "msg", "exc_info": "exc"},
    )


def setup(settings: Settings, verbose: bool = False) -> None:
    install_redaction(secrets_of(settings))
    handler = logging.StreamHandler(sys.stderr)
    json_lines = settings.log_format == "json"
    handler.setFormatter(json_formatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
