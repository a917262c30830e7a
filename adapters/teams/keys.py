"""Bot Framework signing keys, fetched without blocking the event loop.

botbuilder's own key cache (`_OpenIdMetadata`) fetches the OpenID metadata with `requests` inside the
event loop, retries on every request while the fetch fails, and raises `IndexError` for an unknown key
id. `OpenIdKeys` keeps botbuilder's interface (`await get(kid)` → key or None) but fetches in a thread,
one fetch at a time, at most once a minute after a failure, and answers None for keys it does not know.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import requests
from botframework.connector.auth import jwt_token_extractor
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger("coach.teams.keys")

REFRESH_S = 24 * 3600  # keys are refreshed daily, as botbuilder does
UNKNOWN_KEY_REFRESH_S = 3600  # an unknown key id refreshes at most hourly
RETRY_AFTER_FAILURE_S = 60
FETCH_TIMEOUT_S = 10


class OpenIdKeys:
    """The signing keys announced at one OpenID metadata URL."""

    def __init__(self, url: str):
        self.url = url
        self.keys: list[dict[str, Any]] = []
        self.fetched_at = float("-inf")
        self.failed_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, key_id: str | None) -> jwt_token_extractor._OpenIdConfig | None:
        now = time.monotonic()
        if now - self.fetched_at > REFRESH_S or (
            self._find(key_id) is None and now - self.fetched_at > UNKNOWN_KEY_REFRESH_S
        ):
            await self._refresh()
        return self._find(key_id)

    async def _refresh(self) -> None:
        async with self._lock:  # one fetch at a time; those waiting use its result
            now = time.monotonic()
            if now - self.failed_at < RETRY_AFTER_FAILURE_S or now - self.fetched_at < 1:
                return
            try:
                self.keys = await asyncio.to_thread(self._fetch)
                self.fetched_at = time.monotonic()
            except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
                self.failed_at = time.monotonic()
                log.warning("could not fetch Bot Framework signing keys from %s: %s", self.url, exc)

    def _fetch(self) -> list[dict[str, Any]]:
        metadata = requests.get(self.url, timeout=FETCH_TIMEOUT_S)
        metadata.raise_for_status()
        keys = requests.get(metadata.json()["jwks_uri"], timeout=FETCH_TIMEOUT_S)
        keys.raise_for_status()
        return list(keys.json()["keys"])

    def _find(self, key_id: str | None) -> jwt_token_extractor._OpenIdConfig | None:
        key = next((k for k in self.keys if k.get("kid") == key_id), None)
        if key is None:
            return None
        return jwt_token_extractor._OpenIdConfig(
            RSAAlgorithm.from_jwk(json.dumps(key)), key.get("endorsements", [])
        )


def install(override_url: str | None = None) -> None:
    """Make botbuilder's token validation use `OpenIdKeys` for every metadata URL; `override_url`
    (tests: a local key server) replaces Microsoft's metadata URLs."""
    jwt_token_extractor._OpenIdMetadata = lambda url: OpenIdKeys(override_url or url)  # type: ignore[misc]
    jwt_token_extractor.JwtTokenExtractor.metadataCache.clear()
