"""A last word when llama.cpp kills the process: one line on stderr, not a silent 139.

A fatal signal inside native code cannot be caught by Python's ``signal`` module;
``install`` puts a C-level handler in place (through ctypes) that writes a prepared
line and then lets the signal take the process down as it would have.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import faulthandler
import os
import signal
import sys

_FATAL = tuple(
    getattr(signal, name) for name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT") if hasattr(signal, name)
)
_handler = None  # the ctypes callback: must outlive every native call, like llama.cpp's log callback
_message = b""


def crash_line(signum: int) -> bytes:
    """The line written when ``signum`` kills the process."""
    name = signal.Signals(signum).name
    return (
        f"thinkcli: error: llama.cpp crashed ({name}). On CPUs with AMX this is a known "
        "llama.cpp bug: try --no-repack (or THINKCLI_REPACK=off); run with --debug for details\n"
    ).encode()


def install(*, debug: bool = False) -> bool:
    """Write ``crash_line`` to stderr if a fatal signal arrives; with ``debug`` also the Python stack.

    Returns:
        Whether a handler could be installed (POSIX with a C library only).
    """
    if _handler is None and not _install():
        return False
    if debug:  # installed after the line's handler: it dumps the stack, then hands over to it
        faulthandler.enable(file=sys.stderr, all_threads=True)
    return True


def _install() -> bool:
    """The C-level handler, once per process: replacing it would free the one installed."""
    global _handler
    if os.name != "posix":
        return False
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    libc.signal.restype = ctypes.c_void_p
    callback = ctypes.CFUNCTYPE(None, ctypes.c_int)

    def on_fatal(signum: int) -> None:
        os.write(2, crash_line(signum))
        libc.signal(signum, ctypes.c_void_p(0))  # SIG_DFL: the re-raised signal ends the process
        os.kill(os.getpid(), signum)

    _handler = callback(on_fatal)
    for signum in _FATAL:
        libc.signal(signum, _handler)
    return True
