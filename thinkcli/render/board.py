"""The live board of parallel samples: one line per reasoning path.

Bounded like the trace: when more paths run than fit, the last line counts the rest.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.spinner import Spinner
from rich.text import Text

from thinkcli.events import Progress
from thinkcli.render.summary import plural
from thinkcli.render.trace import MAX_TRACE_LINES, live_height, token_count

ANSWER_CHARS = 24


def _short(answer: str, limit: int = ANSWER_CHARS) -> str:
    flat = " ".join(answer.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Board:
    """Where each parallel sample stands.

    ``update`` replaces the whole row mapping (copy on write) so a Live refresh
    thread iterating the old one never sees it change size.

    Args:
        max_lines: The most lines to show (the terminal may allow fewer).
    """

    def __init__(self, *, max_lines: int = MAX_TRACE_LINES) -> None:
        self.max_lines = max_lines
        self._rows: dict[int, Progress] = {}
        self._spinner = Spinner("dots", style="cyan")

    def update(self, ev: Progress) -> None:
        """Record the latest progress of sample ``ev.sample``."""
        self._rows = {**self._rows, ev.sample: ev}

    def rows(self) -> list[Progress]:
        """The latest progress of each path, in path order."""
        return [ev for _, ev in sorted(self._rows.items())]

    def row(self, ev: Progress, now: float) -> Text:
        """``⠋ path 2 · 312/4,096 tokens · 42`` (or the path's latest words), one line, never wrapped."""
        if ev.done:
            line = Text("✓", style="green")
        else:
            spin = self._spinner.render(now)
            line = spin.copy() if isinstance(spin, Text) else Text("·")
        line.append(f" path {ev.sample + 1}")
        tokens = token_count(ev.thinking_tokens, ev.budget) if ev.budget else plural(ev.thinking_tokens, "token")
        line.append(f" · {tokens}", style="dim")
        if ev.extracted:
            line.append(" · ")
            line.append(_short(ev.extracted), style="bold")
        elif ev.line and not ev.done:
            line.append(f" · {ev.line}", style="dim italic")
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self.rows()
        fit = max(1, live_height(options.size.height, self.max_lines) + 1)
        shown = rows if len(rows) <= fit else rows[: fit - 1]
        now = console.get_time()
        for ev in shown:
            yield self.row(ev, now)
        rest = rows[len(shown) :]
        if rest:
            done = sum(ev.done for ev in rest)
            yield Text(f"  + {len(rest)} more ({done} done)", style="dim", no_wrap=True)
