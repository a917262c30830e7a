"""Logging set-up that never lets a secret through.

Every log record, from our code or any library, is checked when it is created: a configured
secret (Slack tokens and signing secret, the Anthropic key, the Microsoft app password) or anything
shaped like a Slack or Anthropic token is replaced by `***` before any handler sees it.
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


def setup(settings: Settings, verbose: bool = False) -> None:
    install_redaction(secrets_of(settings))
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
