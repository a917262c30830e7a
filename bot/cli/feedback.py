"""`coach feedback`: the 👍/👎 readers gave Q&A answers, for the course owner."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.common import out, runtime


def feedback(
    who: Annotated[str, typer.Option("--as", help="Who is asking: platform:user (admins see everyone's).")],
    bad: Annotated[bool, typer.Option("--bad", help="Only 👎 answers.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """👍/👎 on Q&A answers, newest first, with a count per cited passage. Admins (COACH_MANAGERS) see
    everyone's feedback; anyone else sees only their own."""
    from bot.store.answers import per_passage  # the store (sqlite-utils, numpy) loads only when used

    rt = runtime()
    mine_only = None if rt.admin.is_admin(who) else who
    rows = rt.store.answer_feedback(bad_only=bad, learner=mine_only)
    counts = per_passage(rows)
    if as_json:
        payload = {"feedback": rows, "passages": counts, "scope": "own" if mine_only else "all"}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"answer feedback ({'your own' if mine_only else 'everyone'})")
    for column in ("rating", "question", "reason", "cites", "who", "when"):
        table.add_column(column)
    for row in rows:
        rating = "👍" if row["rating"] == "good" else "👎"
        cites = ", ".join(row["citations"])
        table.add_row(rating, row["question"], row["reason"], cites, row["learner"], row["at"])
    out.print(table)
    per = Table(title="per passage")
    for column in ("passage", "👍", "👎"):
        per.add_column(column)
    for passage, tally in sorted(counts.items(), key=lambda kv: (-kv[1]["bad"], kv[0])):
        per.add_row(passage, str(tally["good"]), str(tally["bad"]))
    out.print(per)
