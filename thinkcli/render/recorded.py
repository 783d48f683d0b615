"""Recorded runs drawn after the fact: the full trace, one run whole, and the list of runs.

Each takes a record as ``thinkcli log --json`` prints it. Styles follow the live display
(the trace dim, path headers dim bold); a console that is not a terminal drops them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from thinkcli.events import Result
from thinkcli.render.summary import INTERRUPTED, plural, tally

_CELL_CHARS = 48


def first_line(text: str, width: int = _CELL_CHARS) -> str:
    """The first non-blank line of ``text``, cut to ``width`` characters."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def local_time(stamp: str) -> str:
    """``2026-01-31T09:15:02Z`` in local time, to the minute; the stamp as is if it does not parse."""
    try:
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return str(stamp)
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def trace_texts(record: dict) -> list[str]:
    """Each path's reasoning, in path order (the chosen one's reasoning when none are kept)."""
    texts = [str(s.get("reasoning") or "") for s in record.get("samples") or []]
    return texts or [str(record.get("reasoning") or "")]


def print_trace(record: dict, out: Console, *, path: int | None = None) -> bool:
    """Print the run's reasoning: every path headed by its number (the chosen one marked), or one.

    Args:
        record: the run.
        out: where the trace goes (stdout).
        path: only this path (from 1).

    Returns:
        False when there was no reasoning to print.
    """
    texts = trace_texts(record)
    samples = record.get("samples") or []
    chosen = record.get("chosen", 0)
    numbers = [path] if path is not None else list(range(1, len(texts) + 1))
    printed = False
    for number in numbers:
        text = texts[number - 1].strip("\n")
        if len(texts) > 1 and path is None:
            if printed:
                out.print()
            out.print(Text(path_header(number, samples, chosen), style="dim bold"), overflow="ellipsis", no_wrap=True)
        if text.strip():
            out.print(Text(text, style="dim"), highlight=False)
            printed = True
    return printed


def path_header(number: int, samples: list[dict], chosen: int) -> str:
    sample = samples[number - 1] if number - 1 < len(samples) else {}
    parts = [f"── path {number}"]
    if sample.get("extracted") is not None:
        parts.append(str(sample["extracted"]))
    parts.append(f"confidence {float(sample.get('confidence') or 0):.2f}")
    if number - 1 == chosen:
        parts.append("chosen")
    return " · ".join(parts)


def folded_line(record: dict) -> str | None:
    """The run's trace folded to one line, as the live display left it, or None without thinking."""
    result = Result.from_dict(record)
    tokens = result.stats.thinking_tokens
    if len(result.samples) > 1:
        spent = result.stats.generated_tokens
        return (f"▸ Explored {plural(len(result.samples), 'path')} · {tally(result.samples, result.chosen)}"
                f" · {plural(spent, 'token')} · {result.stats.wall_s:.1f}s")
    if not tokens and not result.reasoning.strip():
        return None
    return f"▸ Thought · {plural(tokens, 'token')}"


def stats_line(record: dict) -> str:
    """Counts and timings in one line."""
    s = record.get("stats") or {}
    parts = [f"prompt {s.get('prompt_tokens', 0):,}", f"thinking {s.get('thinking_tokens', 0):,}",
             f"answer {s.get('answer_tokens', 0):,} tokens", f"{s.get('wall_s', 0):.1f}s",
             f"{s.get('decode_tok_per_s', 0):.1f} tok/s"]
    if record.get("seed") is not None:
        parts.append(f"seed {record['seed']}")
    return " · ".join(parts)


def print_run(record: dict, out: Console, *, markdown: bool) -> None:
    """One run whole: where and when, the question, the folded trace, the answer, the stats."""
    where = f"chat {record['session']} turn {record['turn'] + 1}" if record.get("session") else record.get("command", "")
    head = f"run {record['id']} · {local_time(record.get('started', ''))} · {where} · {record.get('model', '')}" \
           f" · effort {record.get('effort', '')}"
    out.print(Text(head, style="bold"), highlight=False)
    if record.get("system"):
        out.print(Text(f"system: {record['system']}", style="dim"), highlight=False)
    out.print(Text(record.get("question", "")), highlight=False)
    out.print()
    folded = folded_line(record)
    if folded is not None:
        out.print(Text(folded + f" · thinkcli trace {record['id']}", style="dim"), highlight=False)
    answer = str(record.get("answer") or "")
    if answer.strip():
        out.print(Markdown(answer) if markdown else Text(answer), highlight=False)
    if record.get("interrupted"):
        out.print(Text(INTERRUPTED, style="dim"))
    out.print()
    out.print(Text(stats_line(record), style="dim"), highlight=False)


def runs_table(rows: list[dict]) -> Table:
    """The listing: newest first, one row per run."""
    cells = []
    for row in rows:
        answer = first_line(row.get("answer") or "")
        if row.get("interrupted"):
            answer = f"{answer} {INTERRUPTED}".strip()
        cells.append((str(row["id"]), local_time(row["started"]), row["command"], row.get("model") or "",
                      row.get("effort") or "", f"{row.get('tokens') or 0:,}", first_line(row["question"]), answer))
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column, name in enumerate(("id", "time", "cmd", "model", "effort", "tokens")):
        # These never shrink: the question and answer give way on a narrow terminal.
        width = max([len(name)] + [len(cell[column]) for cell in cells])
        table.add_column(name, no_wrap=True, min_width=width, justify="right" if name == "tokens" else "left")
    table.add_column("question", no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("answer", no_wrap=True, overflow="ellipsis", ratio=1)
    for cell in cells:
        table.add_row(*cell)
    return table
