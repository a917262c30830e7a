"""The bundled semantic model loads without changing how the process logs."""

from __future__ import annotations

import logging
import subprocess
import sys


def test_loading_the_model_leaves_the_root_logger_alone() -> None:
    """WordLlama calls `logging.basicConfig(level=INFO)` on import; a command that configures no logging
    must not start printing every library's INFO lines (fresh interpreter: the import happens once)."""
    code = (
        "import logging; from knowledge.semantic import model; model(); r = logging.getLogger(); "
        "print(len(r.handlers), r.level)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", str(logging.WARNING)]
