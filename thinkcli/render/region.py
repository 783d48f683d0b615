"""One transient Live region at a time on a console, opened, swapped and closed.

Closing is idempotent and erases the region, so ``finish``, ``interrupted`` and
error paths can all call it and the cursor is always shown again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import monotonic

from rich.console import Console, RenderableType
from rich.live import Live


class Region:
    """A transient ``rich.live.Live`` whose renderable can be swapped.

    Args:
        console: Where the region draws (stdout's console).
        refresh_per_second: How often the region is redrawn.
        auto_refresh: Redraw from Rich's refresh thread (keeps spinners moving
            while no event arrives). If False, ``refresh()`` redraws, at most
            ``refresh_per_second`` times a second; tests use this.
    """

    def __init__(
        self, console: Console, *, refresh_per_second: float = 8.0, auto_refresh: bool = True
    ) -> None:
        self.console = console
        self._rate = refresh_per_second
        self._auto = auto_refresh
        self._live: Live | None = None
        self._last_refresh = 0.0

    @property
    def active(self) -> bool:
        """Whether a region is on screen."""
        return self._live is not None

    def show(self, renderable: RenderableType) -> None:
        """Draw ``renderable`` in the region, opening it if needed."""
        if self._live is not None:
            self._live.update(renderable, refresh=True)
            return
        live = Live(
            renderable,
            console=self.console,
            transient=True,
            auto_refresh=self._auto,
            refresh_per_second=self._rate,
            # stderr stays stderr: notices must never land on stdout.
            redirect_stderr=False,
        )
        self._live = live
        live.start(refresh=True)
        self._last_refresh = monotonic()

    def refresh(self) -> None:
        """Redraw now if refreshing is manual and the last redraw is old enough."""
        if self._live is None or self._auto:
            return
        now = monotonic()
        if now - self._last_refresh >= 1.0 / self._rate:
            self._last_refresh = now
            self._live.refresh()

    def close(self) -> None:
        """Erase the region and show the cursor again; nothing if none is open."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Take the region off screen for a while (to write to another stream)."""
        live = self._live
        if live is None:
            yield
            return
        renderable = live.renderable
        self.close()
        try:
            yield
        finally:
            self.show(renderable)
