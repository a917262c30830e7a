"""`coach slack manifest` and `coach teams package`: setting the channels up."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import err

slack_cli = typer.Typer(help="Slack app set-up.", no_args_is_help=True)


@slack_cli.command("manifest")
def slack_manifest(
    url: Annotated[
        str | None, typer.Option(help="Your public base URL, e.g. https://coach.example.com")
    ] = None,
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="No public URL: use Socket Mode.")
    ] = False,
) -> None:
    """Print the Slack app manifest to paste into "Create New App → From an app manifest"."""
    import yaml

    from adapters.slack import manifest

    sys.stdout.write(yaml.safe_dump(manifest(url, socket_mode), sort_keys=False, allow_unicode=True))


teams_cli = typer.Typer(help="Teams app set-up.", no_args_is_help=True)


@teams_cli.command("package")
def teams_package(
    out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")] = Path(
        "data/coach-teams.zip"
    ),
    website: Annotated[str, typer.Option(help="Your https site (privacy and terms pages under it).")] = (
        "https://example.com/coach"
    ),
) -> None:
    """Zip the Teams app package (manifest.json with MicrosoftAppId as bot id, color.png, outline.png)."""
    from adapters.teams import PLACEHOLDER_ID, package
    from bot.config import Settings

    settings = Settings()
    path = package(out, settings.teams_app_id, website)
    if not settings.teams_app_id:
        err.print(
            f"[yellow]MicrosoftAppId is not set: the bot id is the placeholder {PLACEHOLDER_ID}[/yellow]"
        )
    typer.echo(f"wrote {path}: upload it in Teams under Apps → Manage your apps → Upload an app")
