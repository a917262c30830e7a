"""Which OAuth scopes each Slack Web API method coach calls needs, as Slack documents them.

The fake Slack refuses a call whose scopes the app does not have (`missing_scope`, as Slack does), and
`tests/test_slack.py` checks that the manifest grants exactly what the code calls and listens to.
A method missing from this table fails that test: add it here with its documented scopes.
"""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "adapters" / "slack" / "manifest.yaml"

# Web API method -> the scopes it needs (any one of them suffices; none: any bot token may call it)
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "views.publish": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "conversations.open": frozenset({"im:write"}),
    "conversations.members": frozenset({"channels:read", "groups:read"}),  # public / private channels
    "users.info": frozenset({"users:read"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "assistant.threads.setStatus": frozenset({"assistant:write"}),
    "assistant.threads.setSuggestedPrompts": frozenset({"assistant:write"}),
}

# slack_sdk / Bolt names that call other Web API methods than their name says
CALLS: dict[str, tuple[str, ...]] = {
    "files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal"),
    "say": ("chat.postMessage",),
    "set_status": ("assistant.threads.setStatus",),
    "set_suggested_prompts": ("assistant.threads.setSuggestedPrompts",),
}

# Events API subscription -> the scope it needs
EVENT_SCOPES: dict[str, str | None] = {
    "app_home_opened": None,
    "app_mention": "app_mentions:read",
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
}


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def manifest_scopes() -> frozenset[str]:
    return frozenset(manifest()["oauth_config"]["scopes"]["bot"])


def api_methods(name: str) -> tuple[str, ...]:
    """`chat_postMessage` → ("chat.postMessage",); composite helpers → what they call."""
    return CALLS.get(name) or (name.replace("_", ".", 1),)
