"""Stand-ins for the far side of every protocol — the Slack Web API, the Bot Framework Connector and
the Anthropic Messages API — served over real HTTP on loopback. Used by the tests and by `coach bench`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: pytest's main process loads bot.testing.scratch alone
    from aiohttp import web

# A stopped fake is a far side that went away: requests still in flight (a reply held back on purpose,
# say 30 s) are cut after this grace instead of holding the test up until they finish.
STOP_GRACE_S = 0.05


async def serve_on_loopback(app: web.Application, **options: Any) -> tuple[web.AppRunner, str]:
    """Serve `app` on 127.0.0.1 at a free port; returns the runner (to clean up) and the base URL.
    `options` are aiohttp server options (timeouts)."""
    from aiohttp import web

    runner = web.AppRunner(app, **options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"
