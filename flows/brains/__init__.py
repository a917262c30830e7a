"""Coach brains: Claude when an API key is configured, the offline coach otherwise, and a fallback
wrapper so a failing Claude turn is answered by the offline coach instead of being dropped.

Claude's SDK takes a second or more of CPU to import, so the Claude brain is built off the event loop
on first use (`DeferredBrain`): `coach serve` is ready without it and builds it in the background.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from bot import metrics
from bot.config import Settings
from flows.brains.base import Answer, Brain, BrainError, LabContext, LabTurn, QAContext
from flows.brains.offline import OfflineBrain

log = logging.getLogger("coach.brain")


class FallbackBrain:
    """Ask `primary`; on any failure, log it and let `backup` answer the same turn."""

    def __init__(self, primary: Brain, backup: Brain):
        self.primary, self.backup = primary, backup
        self.name = f"{primary.name}+{backup.name}"
        self.remote = primary.remote
        self.fallbacks = 0

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """What makes a turn fall back: network trouble, timeouts, 429/529/5xx after the SDK's own
        retries, refusals of the request (4xx) and output the graph cannot use."""
        import anthropic  # loaded by the time Claude has been asked

        return (anthropic.APIError, BrainError)

    def _fell_back(self, what: str, exc: Exception) -> None:
        self.fallbacks += 1
        metrics.brain_fallback(what.replace(" ", "_"))
        log.warning(
            "brain fallback: %s by %s failed (%s: %s); answered by %s",
            what,
            self.primary.name,
            type(exc).__name__,
            exc,
            self.backup.name,
        )

    async def aclose(self) -> None:
        for brain in (self.primary, self.backup):
            close = getattr(brain, "aclose", None)
            if close is not None:
                await close()

    async def lab_turn(self, ctx: LabContext) -> LabTurn:
        try:
            return await self.primary.lab_turn(ctx)
        except self.errors as exc:
            self._fell_back("lab turn", exc)
            return await self.backup.lab_turn(ctx)

    async def answer(self, ctx: QAContext) -> Answer:
        try:
            return await self.primary.answer(ctx)
        except self.errors as exc:
            self._fell_back("answer", exc)
            return await self.backup.answer(ctx)


class DeferredBrain:
    """A brain built on first use, in a worker thread so the event loop keeps serving meanwhile, or
    ahead of it by `warm_up()`. Turns that arrive while it is being built wait for it."""

    def __init__(self, build: Callable[[], Brain], name: str, remote: bool):
        self._build, self.name, self.remote = build, name, remote
        self._brain: Brain | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._brain is not None

    def warm_up(self) -> Brain:
        """Build the brain now if nobody has (blocking; thread-safe)."""
        with self._lock:
            if self._brain is None:
                self._brain = self._build()
            return self._brain

    async def _ready(self) -> Brain:
        return self._brain or await asyncio.to_thread(self.warm_up)

    async def lab_turn(self, ctx: LabContext) -> LabTurn:
        return await (await self._ready()).lab_turn(ctx)

    async def answer(self, ctx: QAContext) -> Answer:
        return await (await self._ready()).answer(ctx)

    async def aclose(self) -> None:
        close = getattr(self._brain, "aclose", None)
        if close is not None:
            await close()


def warm_up(brain: Brain) -> None:
    """Build whatever part of `brain` is deferred (blocking: run it in a thread)."""
    for part in (brain, getattr(brain, "primary", None)):
        if isinstance(part, DeferredBrain):
            part.warm_up()


def make_brain(settings: Settings) -> Brain:
    """The brain the settings ask for: Claude with an offline fallback, or the offline coach."""
    if settings.anthropic_api_key is None or not settings.anthropic_api_key.get_secret_value():
        return OfflineBrain()
    return FallbackBrain(DeferredBrain(lambda: claude_brain(settings), "claude", remote=True), OfflineBrain())


def claude_brain(settings: Settings) -> Brain:
    """Claude alone, as the settings configure it (imports the SDK; needs an API key)."""
    from flows.brains.claude import ClaudeBrain

    if settings.anthropic_api_key is None:
        raise ValueError("Claude needs ANTHROPIC_API_KEY")
    return ClaudeBrain(
        api_key=settings.anthropic_api_key.get_secret_value(),
        model=settings.model,
        base_url=settings.anthropic_base_url,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


__all__ = [
    "Answer",
    "Brain",
    "BrainError",
    "DeferredBrain",
    "FallbackBrain",
    "LabContext",
    "LabTurn",
    "QAContext",
    "make_brain",
    "warm_up",
]
