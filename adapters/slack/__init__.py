"""The Slack channel (Bolt). `manifest.yaml` here creates the Slack app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).parent / "manifest.yaml"


def manifest(url: str | None = None, socket_mode: bool = False) -> dict[str, Any]:
    """The app manifest with the request URLs pointed at `url` (or removed for Socket Mode)."""
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    endpoint = f"{url.rstrip('/')}/slack/events" if url else None
    command = data["features"]["slash_commands"][0]
    settings = data["settings"]
    if socket_mode:
        settings["socket_mode_enabled"] = True
        command.pop("url", None)
        settings["event_subscriptions"].pop("request_url", None)
        settings["interactivity"].pop("request_url", None)
    elif endpoint:
        command["url"] = endpoint
        settings["event_subscriptions"]["request_url"] = endpoint
        settings["interactivity"]["request_url"] = endpoint
    return data
