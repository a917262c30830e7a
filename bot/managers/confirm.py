"""Stateless confirmation codes: an HMAC of who may confirm what, and when the code was issued.

"forget me" asks before deleting; its "Yes" button carries a code that only the same learner, in the
same conversation, within ten minutes, can use. Nothing is kept in memory or in the database, so the
click may land on any web worker, after a restart, and there is nothing to prune. The key comes from
the settings (`server_key`): every worker of one deployment derives the same one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

DIGEST_CHARS = 32  # of the base64url HMAC-SHA256: 192 bits


def server_key(*secrets_in_order: str | None) -> bytes:
    """The key of this deployment: derived from the first configured secret (COACH_SECRET_KEY, then a
    channel's signing secret or app password, which every worker has), else a key for this process
    only (the console: one process, where a restart only asks again)."""
    for secret in secrets_in_order:
        if secret:
            return hmac.new(secret.encode(), b"coach confirmation codes v1", hashlib.sha256).digest()
    return process_key()


def process_key() -> bytes:
    return secrets.token_bytes(32)


def _mac(key: bytes, purpose: Sequence[str], issued: int) -> str:
    message = "\0".join([*purpose, str(issued)]).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:DIGEST_CHARS]


def issue(key: bytes, purpose: Sequence[str], now: datetime) -> str:
    """A code for `purpose` (e.g. ("forget me", learner, conversation)), issued `now`."""
    issued = int(now.timestamp())
    return f"{issued}.{_mac(key, purpose, issued)}"


def valid(key: bytes, purpose: Sequence[str], code: str, now: datetime, ttl: timedelta) -> bool:
    """Whether `code` was issued for exactly `purpose` with `key`, at most `ttl` ago (and not later
    than now)."""
    issued_text, dot, mac = code.partition(".")
    if not dot or not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    if not 0 <= now.timestamp() - issued <= ttl.total_seconds():
        return False
    return hmac.compare_digest(mac.encode(), _mac(key, purpose, issued).encode())
