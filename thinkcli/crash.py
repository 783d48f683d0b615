"""A last word when llama.cpp kills the process: one line on stderr, not a silent 139.

In the dying process only C runs: ``faulthandler`` writes the Python stack to a pipe
and lets the signal end the process as it would have. A small watcher process (this
file run as a script), which ``install`` starts with the pipe's read end as its stdin
and the same stderr, turns that into the one line (with ``--debug``, the stack first).
A normal exit closes the pipe with nothing written, and the watcher leaves without a word.

Nothing of Python runs in the signal handler: a Python callback there must take the
GIL, and with another thread holding it (Rich's refresh thread, say) the crash would
hang instead of ending.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys

_CONTROL = b"\0thinkcli "  # a line from the living process: how to word a crash (never in a stack)
_HEADER = b"Fatal Python error: "
_FAULTS = {  # faulthandler's words for each fatal signal
    b"Segmentation fault": "SIGSEGV",
    b"Bus error": "SIGBUS",
    b"Illegal instruction": "SIGILL",
    b"Floating-point exception": "SIGFPE",
    b"Aborted": "SIGABRT",
}
_pipe: int | None = None  # the write end faulthandler holds: open until the process ends
_watcher = None  # the watcher's Popen


def crash_line(signame: str | None, *, amx: bool = False, debug: bool = False) -> str:
    """The line the watcher prints when the process died of ``signame``.

    Args:
        signame: ``SIGSEGV`` and so on; None when the signal could not be read.
        amx: the AMX kernels are a plausible cause (the build has them, repacking was on).
        debug: the Python stack was printed just before.
    """
    what = f"llama.cpp crashed ({signame})" if signame else "llama.cpp crashed"
    why = (". On CPUs with AMX this is a known llama.cpp bug: try --no-repack (or THINKCLI_REPACK=off)"
           if amx else "")
    more = "; the Python stack is above" if debug else "; run with --debug for details"
    return f"thinkcli: error: {what}{why}{more}\n"


def install(*, debug: bool = False, amx: bool = False) -> bool:
    """Leave one line on stderr if a fatal signal ends this process.

    The first call starts the watcher and points ``faulthandler`` at it; every call
    tells it how to word the line (a chat that loads another model calls again).

    Args:
        debug: print the Python stack of every thread before the line.
        amx: blame llama.cpp's AMX kernels (the build has them and repacking is on).

    Returns:
        Whether a watcher is in place (POSIX only; it may fail to start).
    """
    if _pipe is None and not _start():
        if debug:
            faulthandler.enable(file=sys.stderr, all_threads=True)
        return False
    try:
        os.write(_pipe, _CONTROL + f"debug={int(debug)} amx={int(amx)}\n".encode())
    except OSError:  # the watcher is gone (killed): nothing will say the line
        return False
    return True


def _start() -> bool:
    """The pipe and the watcher, once per process."""
    global _pipe, _watcher
    if os.name != "posix":
        return False
    import subprocess  # here: the watcher itself never needs it

    read_end, write_end = os.pipe()  # neither is inherited by other children (PEP 446)
    try:
        # This file run by path, isolated and without site: it needs only built-in modules,
        # starts fastest so, and no directory or environment variable can put other code
        # in its place. A session of its own: Ctrl-C and a closed terminal's SIGHUP reach
        # only thinkcli.
        _watcher = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__), "watch"],
                                    stdin=read_end, stdout=subprocess.DEVNULL, close_fds=True,
                                    start_new_session=True)
    except OSError:
        os.close(write_end)
        return False
    finally:
        os.close(read_end)
    _pipe = write_end
    faulthandler.enable(file=write_end, all_threads=True)
    return True


def watch(source: int = 0, out: int = 2) -> int:
    """The watcher: read ``source`` to its end; if the process crashed, say so on ``out``.

    Without ``debug`` the line goes out as soon as faulthandler's first line has named
    the signal, before the process is gone and a shell prompt follows it; with it, once
    the stack is complete.
    """
    settings = {"debug": False, "amx": False}
    data, said = b"", False
    while chunk := os.read(source, 65536):
        data = _settle(data + chunk, settings)
        name = _signame(data)
        if name is not None and not said and not settings["debug"]:
            _write(out, crash_line(name or None, amx=settings["amx"]).encode())
            said = True
    if data and not said:
        if settings["debug"]:
            _write(out, data if data.endswith(b"\n") else data + b"\n")
        _write(out, crash_line(_signame(data) or None, amx=settings["amx"], debug=settings["debug"]).encode())
    return 0


def _settle(data: bytes, settings: dict[str, bool]) -> bytes:
    """Apply the whole settings lines at the start of ``data``; the rest of it."""
    while data.startswith(_CONTROL) and b"\n" in data:
        line, _, data = data.partition(b"\n")
        for field in line[len(_CONTROL):].split():
            key, _, value = field.decode("ascii", "replace").partition("=")
            settings[key] = value == "1"
    return data


def _signame(data: bytes) -> str | None:
    """The signal faulthandler's first line names ("" for words it does not know, or
    other text); None while ``data`` is empty or still a settings or first line in part."""
    for start in (_CONTROL, _HEADER):
        if start.startswith(data[: len(start)]) and b"\n" not in data:
            return None
    if not data.startswith(_HEADER):
        return ""
    line = data.partition(b"\n")[0]
    return _FAULTS.get(line[len(_HEADER):].strip(), "")


def _write(fd: int, data: bytes) -> None:
    try:
        os.write(fd, data)
    except OSError:
        pass  # stderr is gone too: there is no one left to tell


if __name__ == "__main__" and sys.argv[1:] == ["watch"]:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the session is its own, but a stray kill -INT to the group
    sys.exit(watch())
