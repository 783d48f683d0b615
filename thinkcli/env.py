"""The process environment, injected: streams, terminal flags and variables.

Commands take an ``Environment`` instead of reading ``sys`` and ``os`` directly,
so tests can hand them piped input, a fake terminal or their own variables.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from typing import BinaryIO, Mapping, TextIO

from rich.console import Console


class _Console(Console):
    """A Rich console that lets a closed pipe surface as BrokenPipeError.

    Rich's own handler exits with status 1; the CLI's boundary ends quietly instead.
    """

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


@dataclass
class Environment:
    """Where input comes from and output goes.

    Args:
        stdin: binary standard input (decoded by the caller, strictly as UTF-8).
        stdout: text standard output (the answer).
        stderr: text standard error (progress, warnings, errors, reasoning).
        stdin_isatty: stdin is a terminal (so not piped input).
        stdout_isatty: stdout is a terminal (so render with Rich).
        vars: environment variables.
    """

    stdin: BinaryIO
    stdout: TextIO
    stderr: TextIO
    stdin_isatty: bool
    stdout_isatty: bool
    vars: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_process(cls) -> Environment:
        def tty(stream: object) -> bool:
            return bool(getattr(stream, "isatty", lambda: False)())

        return cls(
            stdin=sys.stdin.buffer if sys.stdin else open(os.devnull, "rb"),
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_isatty=sys.stdin is not None and tty(sys.stdin),
            stdout_isatty=tty(sys.stdout),
            vars=dict(os.environ),
        )

    def read_stdin(self, *, note_after_s: float = 1.0) -> bytes:
        """All of standard input; says on stderr that it waits if the pipe stays open a while.

        ``sleep 30 | thinkcli ask "Hello"`` would otherwise sit silent until the pipe closes.
        """
        timer = threading.Timer(note_after_s, self._note_reading_stdin)
        timer.daemon = True
        timer.start()
        try:
            return self.stdin.read()
        finally:
            timer.cancel()

    def _note_reading_stdin(self) -> None:
        try:
            self.stderr.write("thinkcli: reading standard input until it closes (--no-stdin to skip it)\n")
            self.stderr.flush()
        except (OSError, ValueError):
            pass  # stderr is gone; the read goes on regardless

    def out_console(self) -> Console:
        """A console for the answer: Rich on a terminal, plain text otherwise."""
        if self.stdout_isatty:
            return _Console(file=self.stdout, force_terminal=True, highlight=False)
        # Piped: no terminal width to fit, so never cut or wrap a line.
        return _Console(file=self.stdout, highlight=False, soft_wrap=True, width=1_000)

    def err_console(self) -> Console:
        """A console for everything that is not the answer."""
        return _Console(file=self.stderr, highlight=False, stderr=True)
