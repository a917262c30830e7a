"""All configuration in one place, read from the environment and `.env`.

Nothing else in coach reads `os.environ`: modules receive a `Settings` (or what they need from it).
Every field has a default that makes the embedded mode work: offline brain, console, SQLite in ./data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "claude-sonnet-5-5"


class Settings(BaseSettings):
    """coach's settings; environment variable names are given by each field's alias."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(Path("data"), alias="COACH_DATA_DIR")
    database_url: SecretStr | None = Field(None, alias="COACH_DATABASE_URL")
    db_pool: int = Field(10, alias="COACH_DB_POOL")
    knowledge_dir: Path | None = Field(None, alias="COACH_KNOWLEDGE_DIR")

    anthropic_api_key: SecretStr | None = Field(None, alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(None, alias="ANTHROPIC_BASE_URL")
    model: str = Field(DEFAULT_MODEL, alias="COACH_MODEL")
    llm_timeout_s: float = Field(30.0, alias="COACH_LLM_TIMEOUT")
    llm_max_retries: int = Field(2, alias="COACH_LLM_RETRIES")

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(None, alias="SLACK_API_URL")

    teams_app_id: str | None = Field(
        None, validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID")
    )
    teams_app_password: SecretStr | None = Field(
        None, validation_alias=AliasChoices("MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD")
    )
    teams_tenant_id: str | None = Field(
        None, validation_alias=AliasChoices("MicrosoftAppTenantId", "MICROSOFT_APP_TENANT_ID")
    )
    teams_app_type: str = Field(
        "MultiTenant", validation_alias=AliasChoices("MicrosoftAppType", "MICROSOFT_APP_TYPE")
    )

    teams_emulator: bool = Field(False, alias="COACH_TEAMS_EMULATOR")  # unauthenticated, loopback only
    teams_openid_url: str | None = Field(None, alias="COACH_TEAMS_OPENID_URL")  # tests: a local key server

    port: int = Field(3978, alias="PORT")
    http_timeout_s: float = Field(10.0, alias="COACH_HTTP_TIMEOUT")  # header and body reads of a request
    prune_every_h: float = Field(24.0, alias="COACH_PRUNE_EVERY_H")  # the clock prunes old checkpoints
    web_workers: int = Field(1, alias="WEB_CONCURRENCY")  # `coach serve` processes (gunicorn's convention)
    managers: str = Field("", alias="COACH_MANAGERS")

    log_format: Literal["text", "json"] = Field("text", alias="COACH_LOG_FORMAT")
    metrics: bool = Field(True, alias="COACH_METRICS")  # record metrics and serve /metrics
    metrics_token: SecretStr | None = Field(None, alias="COACH_METRICS_TOKEN")  # unset: loopback only
    metrics_dir: Path | None = Field(None, alias="PROMETHEUS_MULTIPROC_DIR")  # several processes

    @property
    def database_path(self) -> Path:
        """The SQLite file holding learners' progress and conversation checkpoints."""
        return self.data_dir / "coach.db"

    @property
    def checkpoints_path(self) -> Path:
        """The SQLite file holding LangGraph's per-conversation checkpoints."""
        return self.data_dir / "checkpoints.db"

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL database holding learners, messages, nudges and checkpoints, if one is set."""
        url = self.database_url.get_secret_value() if self.database_url else ""
        return url or None

    @property
    def store_target(self) -> Path | str:
        """Where learner data lives: the PostgreSQL URL, or the SQLite file in the data folder."""
        return self.postgres_url or self.database_path

    @property
    def checkpoints_target(self) -> Path | str:
        """Where conversation checkpoints live: the PostgreSQL URL, or their SQLite file."""
        return self.postgres_url or self.checkpoints_path

    @property
    def index_path(self) -> Path:
        """The SQLite file holding the full-text index of the course; rebuilt from knowledge files."""
        return self.data_dir / "index.db"

    @property
    def brain_name(self) -> str:
        return "claude" if self.anthropic_api_key else "offline"


def mask(secret: SecretStr | str | None) -> str:
    """Show that a secret is set without showing it."""
    if secret is None:
        return "not set"
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not value:
        return "not set"
    return f"set ({len(value)} characters)"
