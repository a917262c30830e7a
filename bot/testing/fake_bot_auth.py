"""A local stand-in for the Bot Framework token service: OpenID metadata, signing keys, and tokens.

Point `COACH_TEAMS_OPENID_URL` at `metadata_url`; `token()` signs a channel token as the Bot Connector
does (issuer https://api.botframework.com, audience the bot's app id, the `serviceurl` claim), and its
keyword arguments make the broken ones: expired, another audience, another key, another serviceUrl.
`hold` keeps metadata requests waiting (a slow key server); `fetches` counts them.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.testing import STOP_GRACE_S, serve_on_loopback

ISSUER = "https://api.botframework.com"
KID = "coach-test-key"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeBotAuth:
    app_id: str
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    fetches: int = 0
    hold: asyncio.Event | None = None  # when set: metadata requests wait until the event is set
    url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    async def start(self) -> FakeBotAuth:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/keys", self._keys)
        self._runner, self.url = await serve_on_loopback(app, shutdown_timeout=STOP_GRACE_S)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def token(
        self,
        service_url: str,
        *,
        audience: str | None = None,
        expires_in: float = 3600,
        kid: str = KID,
        key: rsa.RSAPrivateKey | None = None,
        algorithm: str = "RS256",
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": audience or self.app_id,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + int(expires_in),
        }
        if algorithm == "none":
            return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
        return jwt.encode(claims, key or self.key, algorithm=algorithm, headers={"kid": kid})

    async def _metadata(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if self.hold is not None:
            await self.hold.wait()
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.url}/v1/keys"})

    async def _keys(self, request: web.Request) -> web.Response:
        public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=KID, use="sig", endorsements=["msteams"])
        return web.json_response({"keys": [public]})
