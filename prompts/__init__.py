"""Prompt texts live here as Markdown files so they can be read and reviewed without reading code."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).parent


@cache
def load(name: str) -> str:
    """The text of `prompts/<name>.md`."""
    return (PROMPTS_DIR / f"{name}.md").read_text(encoding="utf-8").strip()


def render(name: str, **values: str) -> str:
    """`prompts/<name>.md` with `$placeholders` filled in; a missing value is an error."""
    return Template(load(name)).substitute(values)
