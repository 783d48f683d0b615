"""The live thinking display: a spinner header over the last lines of the trace.

Its height never exceeds ``live_height(terminal height)`` lines, because a Rich
``Live`` taller than the terminal duplicates lines (rich issue #3263).
"""

from __future__ import annotations

from collections.abc import Iterator
from time import monotonic

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

MAX_TRACE_LINES = 8


def live_height(terminal_height: int, cap: int = MAX_TRACE_LINES) -> int:
    """How many body lines a live region may show under its one header line.

    Args:
        terminal_height: Rows of the terminal.
        cap: The most lines to show however tall the terminal is.

    Returns:
        ``min(cap, terminal_height - 4)``, never negative: header plus body
        stays at least three rows short of the screen.
    """
    return max(0, min(cap, terminal_height - 4))


def last_lines(
    console: Console, options: ConsoleOptions, renderable: RenderableType, count: int
) -> Iterator[Segment]:
    """Render ``renderable`` at the options' width and yield only its last lines.

    Args:
        console: The console rendering the frame.
        options: The frame's options; its width decides the wrapping.
        renderable: What to render (a Text, a Markdown...).
        count: The most lines to yield.

    Yields:
        Segments of at most ``count`` lines, each ended by a newline.
    """
    if count <= 0:
        return
    lines = console.render_lines(renderable, options.update(height=None), pad=False)
    for line in lines[-count:]:
        yield from line
        yield Segment.line()


def token_count(tokens: int, budget: int = 0) -> str:
    """``245/1,024 tokens`` against a budget, ``245 tokens`` without one."""
    return f"{tokens:,}/{budget:,} tokens" if budget > 0 else f"{tokens:,} tokens"


def tail_window(text: str, max_chars: int) -> str:
    """The end of ``text``, cut at a line start so its wrapping stays stable."""
    if len(text) <= max_chars:
        return text
    window = text[-max_chars:]
    newline = window.find("\n")
    return window[newline + 1 :] if 0 <= newline < len(window) - 1 else window


class TraceView:
    """Spinner, label, token count and seconds, over the trace's last lines.

    The renderer assigns the attributes from its own thread while a Live
    refresh thread renders; every assignment replaces a whole immutable value,
    and rendering reads each attribute once.

    Args:
        label: The header's word, e.g. ``"Thinking"``.
        max_lines: The most trace lines to show (the terminal may allow fewer).
    """

    def __init__(self, *, label: str = "Thinking", max_lines: int = MAX_TRACE_LINES) -> None:
        self.label = label
        self.max_lines = max_lines
        self.text = ""
        self._spinner = Spinner("dots", style="cyan")
        self._counts: tuple[int, int, float, float] | None = None

    def update(self, *, text: str, tokens: int, elapsed_s: float, budget: int = 0) -> None:
        """Show ``text`` under the header and these counts (``tokens/budget`` if known), as of now."""
        self.text = text
        self._counts = (tokens, budget, elapsed_s, monotonic())

    def header(self, now: float) -> Text:
        """The spinner line; seconds keep counting between token events."""
        spin = self._spinner.render(now)
        line = Text.assemble(spin if isinstance(spin, Text) else "", " ", (self.label, "bold"))
        counts = self._counts
        if counts is not None:
            tokens, budget, elapsed, stamp = counts
            seconds = elapsed + (monotonic() - stamp)
            line.append(f" · {token_count(tokens, budget)} · {seconds:.1f}s", style="dim")
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.header(console.get_time())
        text = self.text.strip("\n")
        if not text.strip():
            return
        count = live_height(options.size.height, self.max_lines)
        yield from last_lines(console, options, Text(text, style="dim"), count)
