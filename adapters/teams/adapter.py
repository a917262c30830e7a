"""The botbuilder adapter coach runs Teams through: authenticated from the Microsoft* settings, strict
about tokens, and reusing what `bot.guard` already parsed. Its own module, so that sending (the clock's
nudges and digests) does not import the conversation machinery `adapters.teams.bot` needs."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.universal_http.requests import ClientRetryPolicy

from adapters.teams import keys
from adapters.teams.connectors import PooledAuthentication
from bot.config import Settings
from bot.guard import CHECKED

log = logging.getLogger("coach.teams")

# botbuilder builds new msrest connector clients on every turn, and msrest's retry policy computes its
# status list with ~500,000 list-membership steps each time (3.6 ms of CPU per Teams turn, measured by
# `coach bench`). The same codes as a frozenset give the same policy at no cost.
ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)


class StrictAuthentication(PooledAuthentication):
    """botbuilder's authentication, where every failure to validate a token is a `PermissionError`
    (which CloudAdapter answers with 401): expired, wrong audience, `alg=none`, unknown key, garbage."""

    async def authenticate_request(self, activity: Activity, auth_header: str):
        try:
            return await super().authenticate_request(activity, auth_header)
        except Exception as exc:  # one warning line, no traceback: a bad token is the sender's problem
            reason = str(exc) if isinstance(exc, PermissionError) else f"invalid token ({type(exc).__name__})"
            log.warning("teams request refused: %s", reason)
            raise PermissionError(reason) from None


class CheckedCloudAdapter(CloudAdapter):
    """`CloudAdapter` that takes the activity `bot.guard` deserialized while checking the request
    (msrest's deserializer is ~1.4 ms of CPU per Teams turn, measured): the rest is `process` as
    botbuilder wrote it, a token it refuses answered with 401 the same way."""

    async def process(self, request: web.Request, bot: Any, ws_response: Any = None) -> web.Response | None:
        activity = request.get(CHECKED)
        if request.method != "POST" or not isinstance(activity, Activity) or not activity.type:
            return await super().process(request, bot, ws_response)
        try:
            invoke = await self.process_activity(
                request.headers.get("Authorization", ""), activity, bot.on_turn
            )
        except PermissionError:
            raise web.HTTPUnauthorized() from None
        if invoke:
            return web.json_response(data=serializer_helper(invoke.body), status=invoke.status)
        return web.Response(status=201)


def make_adapter(settings: Settings) -> CloudAdapter:
    """A CloudAdapter authenticated from the Microsoft* settings. Without an app id, auth is off: the
    server only wires Teams that way when `COACH_TEAMS_EMULATOR=1` (loopback only)."""
    keys.install(settings.teams_openid_url)
    config = SimpleNamespace(
        APP_ID=settings.teams_app_id or "",
        APP_PASSWORD=settings.teams_app_password.get_secret_value() if settings.teams_app_password else "",
        APP_TYPE=settings.teams_app_type,
        APP_TENANTID=settings.teams_tenant_id or "",
    )
    return CheckedCloudAdapter(StrictAuthentication(config))
