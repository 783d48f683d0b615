"""``thinkcli batch ... --report FILE.html``: the effort comparison and every result as one HTML page.

``write_report`` finds each result's run in the run log (this invocation's by the ids it
recorded, resumed ones by question and level), then writes the page atomically.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Mapping

from thinkcli.batch.sweep import summarize
from thinkcli.errors import UsageError
from thinkcli.render.batch_html import Recorded, batch_report
from thinkcli.render.htmlkit import write_atomic
from thinkcli.runlog.store import RunStore, StoreError


def check_report(path: Path) -> None:
    """Refuse ``--report`` before any work when the page could not be written."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--report writes an .html file, not {path.name}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--report: no directory {folder}")


def find_runs(store_file: Path, records: list[dict], ids: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], Recorded]:
    """Each result's run in the log, with its record and token data, keyed by (problem id, effort)."""
    keys = {(str(r.get("id")), str(r.get("effort"))): r for r in records if "error" not in r}
    found: dict[tuple[str, str], Recorded] = {}
    with RunStore(store_file, create=False) as store:
        older = store.latest("batch") if any(key not in ids for key in keys) else {}
        for key, rec in keys.items():
            run_id = ids.get(key) or older.get((rec.get("question", ""), key[1]))
            if run_id is not None:
                found[key] = Recorded(run_id, store.get(run_id), store.tokens(run_id))
    return found


def write_report(path: Path, records: list[dict], levels: list[str], ids: Mapping[tuple[str, str], int], *,
                 store_file: Path, source: str, model: str = "", warn=None) -> int:
    """Write the batch page to ``path``; returns its size in bytes.

    Args:
        path: the page.
        records: the output records (this run's and any resumed).
        levels: the effort levels compared.
        ids: the run ids this invocation recorded, by (problem id, effort).
        store_file: the run log.
        source: the problem file, for the header; model: the model's name.
        warn: called with one line when the run log cannot be read (the page is written without its runs).
    """
    try:
        runs = find_runs(store_file, records, ids)
    except StoreError as exc:
        runs = {}
        if warn is not None:
            warn(f"the report links no runs: {exc}")
    page = batch_report(summarize(records, levels), records, levels, runs, source=source, model=model,
                        when=time.strftime("%Y-%m-%d %H:%M"))
    return write_atomic(path, page)
