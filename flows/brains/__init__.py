"""Coach brains: Claude when an API key is configured, the offline coach otherwise, and a fallback
wrapper so a failing Claude turn is answered by the offline coach instead of being dropped.
"""

from __future__ import annotations

import logging

from bot import metrics
from bot.config import Settings
from flows.brains.base import Answer, Brain, BrainError, LabContext, LabTurn, QAContext
from flows.brains.offline import OfflineBrain

log = logging.getLogger("coach.brain")


class FallbackBrain:
    """Ask `primary`; on any failure, log it and let `backup` answer the same turn."""

    def __init__(self, primary: Brain, backup: Brain):
        import anthropic  # only a process that talks to Claude pays for importing its SDK

        # What makes a turn fall back: network trouble, timeouts, 429/529/5xx after the SDK's own
        # retries, refusals of the request (4xx) and output the graph cannot use.
        self.errors = (anthropic.APIError, BrainError)
        self.primary, self.backup = primary, backup
        self.name = f"{primary.name}+{backup.name}"
        self.remote = primary.remote
        self.fallbacks = 0

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


def make_brain(settings: Settings) -> Brain:
    """The brain the settings ask for: Claude with an offline fallback, or the offline coach."""
    if settings.anthropic_api_key is None or not settings.anthropic_api_key.get_secret_value():
        return OfflineBrain()
    from flows.brains.claude import ClaudeBrain

    claude = ClaudeBrain(
        api_key=settings.anthropic_api_key.get_secret_value(),
        model=settings.model,
        base_url=settings.anthropic_base_url,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
    return FallbackBrain(claude, OfflineBrain())


__all__ = [
    "Answer",
    "Brain",
    "BrainError",
    "FallbackBrain",
    "LabContext",
    "LabTurn",
    "QAContext",
    "make_brain",
]
