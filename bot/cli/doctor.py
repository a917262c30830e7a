"""`coach doctor`: what is configured, without showing secrets."""

from __future__ import annotations

import contextlib
import platform
from urllib.parse import urlsplit

from rich.table import Table

from bot.cli.common import out


def doctor() -> None:
    """Show what is configured (Slack, Teams, Claude, database) without showing secrets."""
    from bot.config import Settings, mask
    from knowledge.loader import KnowledgeError, load_course

    s = Settings()
    table = Table(title="coach doctor", show_header=True)
    table.add_column("area")
    table.add_column("setting")
    table.add_column("value")
    table.add_row("python", "version", platform.python_version())
    if s.postgres_url:
        parts = urlsplit(s.postgres_url)
        where = f"{parts.hostname}:{parts.port or 5432}{parts.path}"
        table.add_row(
            "database", "COACH_DATABASE_URL", f"PostgreSQL at {where} (password {mask(parts.password)})"
        )
        table.add_row("database", "COACH_DB_POOL", str(s.db_pool))
    else:
        table.add_row("database", "file", str(s.database_path))
    table.add_row("database", "index", str(s.index_path))
    table.add_row("claude", "ANTHROPIC_API_KEY", mask(s.anthropic_api_key))
    table.add_row("claude", "COACH_MODEL", s.model)
    table.add_row("claude", "brain in use", s.brain_name)
    with contextlib.suppress(KnowledgeError):
        from flows.brains.claude import estimated_tokens, qa_system

        prefix = estimated_tokens(qa_system(load_course(s.knowledge_dir)))
        table.add_row("claude", "Q&A cached prefix", f"~{prefix} tokens (cacheable from 1024-4096 by model)")
    table.add_row("claude", "prompt-cache hit rate", "logged per call: `coach.claude` … hit rate")
    table.add_row("slack", "SLACK_BOT_TOKEN", mask(s.slack_bot_token))
    table.add_row("slack", "SLACK_SIGNING_SECRET", mask(s.slack_signing_secret))
    table.add_row("slack", "SLACK_APP_TOKEN (Socket Mode)", mask(s.slack_app_token))
    table.add_row("teams", "MicrosoftAppId", s.teams_app_id or "not set (auth off, Emulator mode)")
    table.add_row("teams", "MicrosoftAppPassword", mask(s.teams_app_password))
    table.add_row("teams", "MicrosoftAppTenantId", s.teams_tenant_id or "not set")
    metrics = "off" if not s.metrics else "bearer token " + mask(s.metrics_token)
    if s.metrics and not s.metrics_token:
        metrics = "on, this machine only (no COACH_METRICS_TOKEN)"
    table.add_row("operations", "/metrics", metrics)
    table.add_row("operations", "PROMETHEUS_MULTIPROC_DIR", str(s.metrics_dir or "not set (one process)"))
    table.add_row("operations", "COACH_LOG_FORMAT", s.log_format)
    try:
        course = load_course(s.knowledge_dir)
        summary = (
            f"ok: {len(course.lessons)} lessons, {len(course.questions)} questions, {len(course.labs)} labs"
        )
    except KnowledgeError as exc:
        summary = f"{len(exc.problems)} problem(s): run `coach knowledge check`"
    table.add_row("knowledge", "content", summary)
    out.print(table)
