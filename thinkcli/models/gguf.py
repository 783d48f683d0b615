"""Read a GGUF file's metadata and check its tensor data is all there, without llama.cpp.

``read_gguf`` returns a ``GGUFInfo`` or raises ``ModelError`` naming the file.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from thinkcli.errors import ModelError

__all__ = ["GGUFInfo", "REASONING_MARKERS", "read_gguf"]

SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

#: Substrings of a chat template that show the model writes a reasoning section.
REASONING_MARKERS = (
    "<think>", "</think>", "[THINK]", "<|channel|>", "seed:think>", "<|channel>", "[BEGIN FINAL RESPONSE]", "<|think|>",
)

# ggml_type id -> (name, elements per block, bytes per block), from ggml.h.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}

# llama_ftype (general.file_type) -> label, from llama.h; gaps are removed types.
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S",
    15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS",
    20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
    25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M",
    30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4", 39: "NVFP4", 40: "Q1_0",
}
_FTYPE_GUESSED = 1024

# GGUF metadata value types: id -> struct format of a fixed-size scalar.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f",
            7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What thinkcli needs to know about a model file before loading it.

    Attributes:
        path: The file read.
        architecture: ``general.architecture`` (``llama``, ``qwen3``...), or None.
        name: ``general.name``, or the file's stem when the file has none.
        file_type: The raw ``general.file_type`` (a ``llama_ftype``), or None.
        quantization: A label such as ``Q4_K_M``; inferred from the tensors when
            ``general.file_type`` is missing or unknown.
        context_length: ``{architecture}.context_length``, the trained context.
        chat_template: ``tokenizer.chat_template``, or None.
        reasoning: Whether the chat template mentions a thinking tag.
        size_bytes: The file's size.
        n_tensors: How many tensors the file holds.
        n_params: Total number of tensor elements.
        version: The GGUF format version.
        metadata: Every scalar and string key/value (arrays are skipped).
    """

    path: Path
    architecture: str | None
    name: str
    file_type: int | None
    quantization: str
    context_length: int | None
    chat_template: str | None
    reasoning: bool
    size_bytes: int
    n_tensors: int
    n_params: int
    version: int
    metadata: Mapping[str, object] = field(repr=False, compare=False)


class _Truncated(Exception):
    """Raised internally when a read runs past the end; carries the bytes needed."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


class _Reader:
    """Bounds-checked little-endian reads from a memory-mapped file."""

    def __init__(self, buf: mmap.mmap, size: int) -> None:
        self.buf = buf
        self.size = size
        self.pos = 0

    def _need(self, n: int) -> int:
        start = self.pos
        if start + n > self.size:
            raise _Truncated(start + n)
        self.pos = start + n
        return start

    def scalar(self, fmt: str) -> int | float | bool:
        return struct.unpack_from(fmt, self.buf, self._need(struct.calcsize(fmt)))[0]

    def u32(self) -> int:
        return _U32.unpack_from(self.buf, self._need(4))[0]

    def u64(self) -> int:
        return _U64.unpack_from(self.buf, self._need(8))[0]

    def string(self) -> str:
        n = self.u64()
        start = self._need(n)
        return self.buf[start : start + n].decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        # The hot loop: a vocabulary is tens of thousands of strings.
        buf, size, pos, unpack = self.buf, self.size, self.pos, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                raise _Truncated(pos + 8)
            pos += 8 + unpack(buf, pos)[0]
        if pos > size:
            raise _Truncated(pos)
        self.pos = pos

    def value(self, vtype: int, key: str) -> object:
        """Read one value; arrays are skipped and come back as None."""
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            self.skip_array()
            return None
        fmt = _SCALARS.get(vtype)
        if fmt is None:
            raise ValueError(f"unknown value type {vtype} for key {key!r}")
        return self.scalar(fmt)

    def skip_array(self) -> None:
        etype, count = self.u32(), self.u64()
        if etype == _STRING:
            self.skip_strings(count)
        elif etype == _ARRAY:
            for _ in range(count):
                self.skip_array()
        elif etype in _SCALARS:
            self._need(count * struct.calcsize(_SCALARS[etype]))
        else:
            raise ValueError(f"unknown array element type {etype}")


def read_gguf(path: str | Path) -> GGUFInfo:
    """Read a GGUF file's header, metadata and tensor table.

    Only the header and tables are read; the tensor data is checked by size
    (it must all lie within the file), never read.

    Args:
        path: The file to read.

    Returns:
        The file's metadata summary.

    Raises:
        ModelError: The file is missing, not GGUF, of an unsupported version,
            truncated, or corrupt.
    """
    path = Path(path)
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise ModelError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ModelError(f"{path} is a directory, not a GGUF file") from None
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        size = path.stat().st_size
        if f.read(4) != b"GGUF":
            raise ModelError(f"{path} is not a GGUF file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            reader = _Reader(buf, size)
            try:
                return _parse(path, reader)
            except _Truncated as exc:
                raise ModelError(
                    f"{path} is truncated ({size:,} of at least {exc.needed:,} bytes)"
                ) from None
            except ValueError as exc:
                raise ModelError(f"{path} is corrupt: {exc}") from None


def _parse(path: Path, r: _Reader) -> GGUFInfo:
    r.pos = 4
    version = r.u32()
    if version not in SUPPORTED_VERSIONS:
        if _U32.unpack(_U32.pack(version)[::-1])[0] in SUPPORTED_VERSIONS:
            raise ModelError(f"{path} is a big-endian GGUF file, which is not supported")
        raise ModelError(
            f"{path} uses GGUF version {version}; thinkcli reads versions 2 and 3"
        )
    n_tensors, n_kv = r.u64(), r.u64()
    meta: dict[str, object] = {}
    for _ in range(n_kv):
        key = r.string()
        value = r.value(r.u32(), key)
        if value is not None:
            meta[key] = value
    alignment = meta.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise ValueError(f"general.alignment is {alignment!r}, not a power of two")
    types, data_end, n_params = _read_tensors(r, n_tensors, alignment)
    needed = _align(r.pos, alignment) + data_end
    if needed > r.size:
        raise ModelError(f"{path} is truncated ({r.size:,} of {needed:,} bytes)")
    return _summarize(path, meta, types, r.size, n_tensors, n_params, version)


def _read_tensors(
    r: _Reader, n_tensors: int, alignment: int
) -> tuple[Counter[int], int, int]:
    """Read the tensor table; return elements per type, end of the data, total."""
    types: Counter[int] = Counter()
    data_end = n_params = 0
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.u32()
        if n_dims > 8:
            raise ValueError(f"tensor {name!r} has {n_dims} dimensions")
        n_elements = 1
        for _ in range(n_dims):
            n_elements *= r.u64()
        ggml_type, offset = r.u32(), r.u64()
        if offset % alignment:
            raise ValueError(f"tensor {name!r} is not aligned to {alignment} bytes")
        n_params += n_elements
        # Weighted by elements, so the big matrices decide the label, not the
        # many small F32 norm vectors.
        types[ggml_type] += n_elements
        spec = GGML_TYPES.get(ggml_type)
        if spec is None:  # a type newer than this table: can't size it, don't fail
            continue
        _, block, type_size = spec
        data_end = max(data_end, offset + -(-n_elements // block) * type_size)
    return types, data_end, n_params


def _summarize(
    path: Path,
    meta: dict[str, object],
    types: Counter[int],
    size: int,
    n_tensors: int,
    n_params: int,
    version: int,
) -> GGUFInfo:
    arch = _str(meta.get("general.architecture"))
    ctx = meta.get(f"{arch}.context_length") if arch else None
    template = _str(meta.get("tokenizer.chat_template"))
    file_type = meta.get("general.file_type")
    file_type = file_type if isinstance(file_type, int) else None
    return GGUFInfo(
        path=path,
        architecture=arch,
        name=_str(meta.get("general.name")) or path.stem,
        file_type=file_type,
        quantization=_quantization(file_type, types),
        context_length=ctx if isinstance(ctx, int) and ctx > 0 else None,
        chat_template=template,
        reasoning=bool(template) and any(m in template for m in REASONING_MARKERS),
        size_bytes=size,
        n_tensors=n_tensors,
        n_params=n_params,
        version=version,
        metadata=MappingProxyType(meta),
    )


def _quantization(file_type: int | None, types: Counter[int]) -> str:
    if file_type is not None:
        label = FILE_TYPES.get(file_type & ~_FTYPE_GUESSED)
        if label is not None:
            return label
    if not types:
        return "unknown"
    common = max(types, key=lambda t: types[t])
    return GGML_TYPES[common][0] if common in GGML_TYPES else f"type {common}"


def _align(offset: int, alignment: int) -> int:
    return offset + (-offset % alignment)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
