"""Streaming Markdown: finished blocks are printed for good, the tail stays live.

A block is finished at a blank line outside a code fence once the next line has
begun at column 0, so indented list continuations and code stay with their block.
"""

from __future__ import annotations

import re

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Markdown
from rich.segment import Segment

from thinkcli.render.trace import live_height

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")


def _fence_change(line: str, fence: str | None) -> str | None:
    """The fence open after ``line``, given the one open before it."""
    match = _FENCE.match(line)
    if match is None:
        return fence
    marker = match.group(1)
    if fence is None:
        return marker
    # Only a run of the same character, at least as long, with nothing after closes it.
    closes = marker[0] == fence[0] and len(marker) >= len(fence)
    return None if closes and not line[match.end() :].strip() else fence


def last_boundary(text: str) -> int:
    """The offset where the last finished block of ``text`` ends, or 0.

    Args:
        text: Markdown that is still streaming; its last line may be partial.

    Returns:
        The start of the line that opens the current (unfinished) block:
        a line begun at column 0 after a blank line outside any code fence.
    """
    fence: str | None = None
    blank_before = False
    cut = 0
    offset = 0
    for line in text.split("\n"):
        starts_block = line[:1] not in ("", " ", "\t")
        if fence is None and blank_before and starts_block:
            cut = offset
        if fence is None:
            blank_before = not line.strip()
        fence = _fence_change(line, fence)
        offset += len(line) + 1
    return cut


class BlockSplitter:
    """Feeds answer pieces, hands back the blocks that are finished.

    The unfinished rest is ``tail``; ``flush()`` ends the stream and returns it.
    """

    def __init__(self) -> None:
        self.tail = ""

    def feed(self, piece: str) -> str | None:
        """Add ``piece``; return the text of newly finished blocks, if any."""
        # A block can only finish once a new line begins.
        new_line = "\n" in piece or self.tail.endswith("\n")
        self.tail += piece
        if not new_line:
            return None
        cut = last_boundary(self.tail)
        if cut == 0:
            return None
        done, self.tail = self.tail[:cut], self.tail[cut:]
        return done if done.strip() else None

    def flush(self) -> str:
        """End the stream: return the unfinished rest and forget it."""
        rest, self.tail = self.tail, ""
        return rest


def markdown_lines(console: Console, options: ConsoleOptions, text: str) -> list[list[Segment]]:
    """Render Markdown to lines, minus the blank lines it may open with.

    Rich's Markdown puts a blank line before a top-level element whenever the
    element before it, even a nested one, asked for one; a block rendered on
    its own can so open with a blank line it would not have in the whole text.
    """
    lines = console.render_lines(Markdown(text), options.update(height=None), pad=False)
    start = 0
    while start < len(lines) and not any(seg.text for seg in lines[start]):
        start += 1
    return lines[start:]


class MarkdownBlock:
    """A finished block of the answer, rendered as Markdown.

    Args:
        text: The block's Markdown source.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in markdown_lines(console, options, self.text):
            yield from line
            yield Segment.line()


def _open_fence(lines: list[str]) -> str | None:
    """The line that opened the fence still open after ``lines``, if any."""
    fence: str | None = None
    opener = None
    for line in lines:
        after = _fence_change(line, fence)
        if after is not None and fence is None:
            opener = line
        fence = after
    return opener if fence is not None else None


def preview_source(text: str, keep: int) -> str:
    """Enough of ``text`` to render its last ``keep`` lines.

    Inside a long code fence only the opening line and the last lines are
    kept: highlighting hundreds of lines at every refresh is slow, and code
    lines wrap independently, so the last lines render the same.
    """
    lines = text.split("\n")
    if len(lines) <= 3 * keep:
        return text
    opener = _open_fence(lines[: -2 * keep])
    if opener is None:
        return text
    return "\n".join([opener, *lines[-2 * keep :]])


class AnswerTail:
    """The unfinished end of the answer, as Markdown, bounded to the last lines.

    Args:
        max_lines: The most lines to show; the terminal may allow fewer.
    """

    def __init__(self, *, max_lines: int = 1000) -> None:
        self.max_lines = max_lines
        self.text = ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = self.text
        if not text.strip():
            return
        # The tail has no header line, so it may use that row too.
        count = live_height(options.size.height, self.max_lines) + 1
        for line in markdown_lines(console, options, preview_source(text, count))[-count:]:
            yield from line
            yield Segment.line()
