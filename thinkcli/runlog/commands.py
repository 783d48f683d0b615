"""``thinkcli log`` and ``thinkcli trace``: the runs kept, listed, searched, shown and cleared."""

from __future__ import annotations

import json
from pathlib import Path

from thinkcli.env import Environment
from thinkcli.errors import ExitStatus, InputError, UsageError
from thinkcli.render.recorded import print_run, print_trace, runs_table
from thinkcli.render.shading import print_shaded
from thinkcli.runlog.store import RunStore, store_path


def _find(store: RunStore, run_id: int | None) -> dict:
    record = store.last() if run_id is None else store.get(run_id)
    if record is None:
        if run_id is None:
            raise InputError("no runs recorded yet")
        raise InputError(f"no run {run_id} in the log at {store.path} (thinkcli log lists them)")
    return record


def run_trace(env: Environment, run_id: int | None, path: int | None, *, confidence: bool = False,
              html: Path | None = None) -> ExitStatus:
    """``thinkcli trace [ID] [--path N] [--confidence] [--html FILE]``: the reasoning of the last run, or of run ``ID``."""
    if path is not None and path < 1:
        raise UsageError(f"--path must be at least 1, got {path}")
    if path is not None and html is not None:
        raise UsageError("--html writes every path; leave out --path")
    with RunStore(store_path(env.vars), create=False) as store:
        record = _find(store, run_id)
        tokens = store.tokens(record["id"]) if confidence or html is not None else None
    paths = len(record.get("samples") or []) or 1
    if path is not None and path > paths:
        raise UsageError(f"run {record['id']} explored {paths} path(s); --path {path} is not one of them")
    if html is not None:
        from thinkcli.render.html import write_run_report

        size = write_run_report(html, record, tokens)
        env.err_console().print(f"[dim]wrote {_escape(str(html))} ({size / 1000:,.0f} kB)[/dim]", highlight=False)
        if not confidence:
            return ExitStatus.OK
    out = env.out_console()
    if env.stdout_isatty:
        question = record["question"].strip().splitlines()[0] if record["question"].strip() else ""
        out.print(f"[bold]run {record['id']}[/bold] [dim]· {_escape(question)}[/dim]", highlight=False)
    if confidence:
        shown = print_shaded(record, tokens, out, env.err_console(), path=path, no_color=bool(env.vars.get("NO_COLOR")))
    else:
        shown = print_trace(record, out, path=path)
    if not shown:
        env.err_console().print(f"[dim]run {record['id']} has no reasoning (it answered without thinking)[/dim]",
                                highlight=False)
    return ExitStatus.OK


def run_log(env: Environment, *, limit: int, query: str | None, json_out: bool, run_id: int | None) -> ExitStatus:
    """``thinkcli log``: recent runs newest first, a search, JSON records, or one run whole."""
    if limit < 1:
        raise UsageError(f"-n must be at least 1, got {limit}")
    with RunStore(store_path(env.vars), create=False) as store:
        if run_id is not None:
            record = _find(store, run_id)
            if json_out:
                env.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
            else:
                print_run(record, env.out_console(), markdown=env.stdout_isatty)
            return ExitStatus.OK
        rows = store.recent(limit, query=query, full=json_out)
    if json_out:
        env.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    elif rows:
        env.out_console().print(runs_table(rows))
    else:
        said = f"no recorded run matches {query!r}" if query else "no runs recorded yet"
        env.err_console().print(f"[dim]{_escape(said)}[/dim]", highlight=False)
    return ExitStatus.OK


def clear_log(env: Environment, *, yes: bool) -> ExitStatus:
    """``thinkcli log --clear``: remove every recorded run, after asking on a terminal."""
    path = store_path(env.vars)
    if not yes:
        if not env.stdin_isatty:
            raise UsageError("log --clear asks before it deletes; add --yes to clear without asking")
        with RunStore(path, create=False) as store:
            count = store.count()
        env.stderr.write(f"Delete all {count} recorded run(s) and chat sessions in {path}? [y/N] ")
        env.stderr.flush()
        reply = env.stdin.readline().decode("utf-8", errors="replace").strip().lower()
        if reply not in ("y", "yes"):
            env.err_console().print("[dim]nothing deleted[/dim]", highlight=False)
            return ExitStatus.OK
    with RunStore(path, create=False) as store:
        count = store.clear()
    env.err_console().print(f"[dim]deleted {count} recorded run(s)[/dim]", highlight=False)
    return ExitStatus.OK


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
