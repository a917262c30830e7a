"""The frameworks' floor: the least a turn can cost with the libraries coach is built on.

`python -m bench.floor --port N` serves Slack and Teams the plainest way each framework documents, and
does per message what a coaching turn must do at the least:

- Slack: a Bolt `AsyncApp` on aiohttp acknowledges the event, then one `chat.postMessage`
  (the Web API client shares one aiohttp session, as ours does);
- Teams: a botbuilder `ActivityHandler` behind `CloudAdapter` that echoes (one reply), with the
  settings coach gives botbuilder (reused connector clients that read the environment once and skip
  msrest's empty validation, msrest's retry codes as a frozenset): without them the bare echo costs
  several times more and the floor would flatter us;
- the collector settings coach uses (`bot/heap.py`: freeze after start-up), for the same reason;
- in between, a 3-node LangGraph graph with its SQLite checkpointer (one checkpoint per turn, as
  ours), whose middle node makes one `AsyncAnthropic` call when `ANTHROPIC_BASE_URL` is set.

`coach bench` runs this process and `coach serve` under the same load in the same run and reports
coach's CPU per turn as a ratio to this floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import tempfile
from pathlib import Path
from typing import Any, TypedDict

import aiohttp
import aiosqlite
from aiohttp import web
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

from bot.heap import freeze_startup_heap


class Turn(TypedDict, total=False):
    text: str
    intent: str
    answer: str


async def open_graph(path: Path, claude: Any) -> tuple[Any, aiosqlite.Connection]:
    """route → think → reply, checkpointed in SQLite like coach's graph."""

    def route(state: Turn) -> Turn:
        return {"intent": "ask"}

    async def think(state: Turn) -> Turn:
        if claude is None:
            return {"answer": f"You said: {state['text']}"}
        response = await claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=400, messages=[{"role": "user", "content": state["text"]}]
        )
        return {"answer": response.content[0].text}

    def reply(state: Turn) -> Turn:
        return {"answer": state["answer"].strip()}

    graph = StateGraph(Turn)
    graph.add_node("route", route)
    graph.add_node("think", think)
    graph.add_node("reply", reply)
    graph.add_edge(START, "route")
    graph.add_edge("route", "think")
    graph.add_edge("think", "reply")
    graph.add_edge("reply", END)
    conn = await aiosqlite.connect(str(path))
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    saver = AsyncSqliteSaver(conn)
    await saver.setup()
    return graph.compile(checkpointer=saver), conn


async def answer(graph: Any, thread: str, text: str) -> str:
    result = await graph.ainvoke({"text": text}, {"configurable": {"thread_id": thread}}, durability="exit")
    return result["answer"]


def slack_routes(app: web.Application, graph: Any, session: aiohttp.ClientSession) -> None:
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"], session=session
    )
    bolt = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @bolt.event("message")
    async def on_message(event: dict, client: AsyncWebClient) -> None:
        text = await answer(graph, f"slack:{event['channel']}", event.get("text", ""))
        await client.chat_postMessage(channel=event["channel"], text=text)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app.router.add_post("/slack/events", events)


def teams_routes(app: web.Application, graph: Any) -> None:
    from types import SimpleNamespace

    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter
    from msrest.universal_http.requests import ClientRetryPolicy

    from adapters.teams.connectors import PooledAuthentication

    # coach's botbuilder settings (adapters/teams/adapter.py, connectors.py). Without them this echo
    # builds a new connector client (serializers, a requests session, a pool, a TCP connection) and
    # recomputes msrest's retry codes on every turn, and it measured ABOVE coach's whole turn.
    ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)
    adapter = CloudAdapter(PooledAuthentication(SimpleNamespace(APP_ID="", APP_PASSWORD="")))

    class Echo(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            activity = turn_context.activity
            text = await answer(graph, f"teams:{activity.conversation.id}", activity.text or "")
            await turn_context.send_activity(text)

    bot = Echo()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot) or web.Response(status=201)

    app.router.add_post("/api/messages", messages)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def serve(port: int) -> None:
    claude = None
    if os.environ.get("ANTHROPIC_BASE_URL"):
        from anthropic import AsyncAnthropic, DefaultAioHttpClient

        claude = AsyncAnthropic(
            api_key=os.environ.get("ANTHROPIC_API_KEY", "sk-ant-floor"),
            base_url=os.environ["ANTHROPIC_BASE_URL"],
            http_client=DefaultAioHttpClient(),
        )
    with tempfile.TemporaryDirectory() as tmp:
        graph, conn = await open_graph(Path(tmp) / "checkpoints.db", claude)
        async with aiohttp.ClientSession() as session:
            app = web.Application()
            app.router.add_get("/healthz", healthz)
            slack_routes(app, graph, session)
            teams_routes(app, graph)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            freeze_startup_heap()
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()
                await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # `coach bench` stops the floor with SIGTERM: end as on Ctrl-C, so the checkpoint folder is deleted
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
