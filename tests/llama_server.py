"""A real OpenAI-compatible server on loopback for tests and benchmarks: llama-cpp-python's
own, serving the small model, started on a free port and stopped at the end."""

from __future__ import annotations

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
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the llama-cpp-python server exited with {proc.returncode}")
            try:
                if httpx.get(url + "/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the llama-cpp-python server did not start in time")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
