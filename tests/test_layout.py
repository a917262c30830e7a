"""The import direction of the layout: the flows and the knowledge layer know nothing of the channels,
the server, the command line or the benchmarks; the flows take from `bot` only the message model, the
store's interface, the settings (to choose a brain) and the metrics (to count brain fallbacks and
Claude's prompt-cache use)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("adapters", "bot.cli", "bot.server", "bench")
FLOWS_MAY_USE = ("bot.messages", "bot.store", "bot.config", "bot.metrics")


def imports(path: Path) -> list[str]:
    """Every module `path` imports, anywhere in the file (inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", ["flows", "knowledge"])
def test_inner_layers_do_not_import_outer_ones(folder: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sources(folder)
        for module in imports(path)
        if within(module, FORBIDDEN)
    ]
    assert sources(folder) and bad == []


def test_flows_use_only_the_message_model_the_store_and_settings_from_bot() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sources("flows")
        for module in imports(path)
        if within(module, ("bot",)) and module != "bot" and not within(module, FLOWS_MAY_USE)
    ]
    assert bad == []


def test_the_check_sees_imports_anywhere_in_a_file(tmp_path: Path) -> None:
    source = tmp_path / "flow.py"
    source.write_text("import bench.harness\n\ndef f():\n    from adapters.slack import blocks\n")
    assert [m for m in imports(source) if within(m, FORBIDDEN)] == [
        "bench.harness",
        "adapters.slack",
        "adapters.slack.blocks",
    ]
    assert not within("benchmarks", FORBIDDEN)
