"""The Teams channel (botbuilder). `app/` holds the Teams app package: manifest template and icons."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

APP_DIR = Path(__file__).parent / "app"
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def package(
    out: Path, bot_id: str | None, website: str = "https://example.com/coach", version: str = "1.0.0"
) -> Path:
    """Zip manifest.json (bot id filled in), color.png and outline.png for upload to Teams."""
    manifest = (APP_DIR / "manifest.json").read_text(encoding="utf-8")
    manifest = manifest.replace("{{BOT_ID}}", bot_id or PLACEHOLDER_ID).replace(
        "{{WEBSITE}}", website.rstrip("/")
    )
    data = json.loads(manifest)  # the template must stay valid JSON
    data["version"] = version
    manifest = json.dumps(data, indent=2, ensure_ascii=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        for icon in ("color.png", "outline.png"):
            archive.write(APP_DIR / icon, icon)
    return out
