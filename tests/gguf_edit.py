"""Copy a real GGUF file with its metadata changed: keys dropped, special tokens made plain.

The tensor table and data are copied unchanged (their offsets are relative to where the
data starts, which is re-aligned after the new metadata), so llama.cpp loads the copy.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

from thinkcli.models.gguf import _ARRAY, _Reader

_NORMAL = 1


def edit_gguf(src: Path, dst: Path, *, drop: tuple[str, ...] = (), plain: tuple[str, ...] = ()) -> Path:
    """Write ``src`` to ``dst`` without the metadata keys ``drop``, and with the tokens whose
    text is in ``plain`` typed as normal tokens (so no longer special). Returns ``dst``."""
    with src.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        r = _Reader(buf, len(buf))
        r.pos = 4
        version, n_tensors, n_kv = r.u32(), r.u64(), r.u64()
        spans, tokens, alignment = [], [], 32
        for _ in range(n_kv):
            start = r.pos
            key = r.string()
            vtype = r.u32()
            if key == "tokenizer.ggml.tokens" and vtype == _ARRAY:
                r.u32()
                tokens = [r.string() for _ in range(r.u64())]
            else:
                value = r.value(vtype, key)
                if key == "general.alignment":
                    alignment = int(value)
            spans.append((key, start, r.pos))
        tensors_start = r.pos
        _skip_tensor_table(r, n_tensors)
        data_start = r.pos + (-r.pos % alignment)
        kept = [(key, bytes(buf[a:b])) for key, a, b in spans if key not in drop]
        kept = [(key, _plain_types(raw, tokens, plain) if key == "tokenizer.ggml.token_type" else raw)
                for key, raw in kept]
        head = b"GGUF" + struct.pack("<IQQ", version, n_tensors, len(kept)) + b"".join(raw for _, raw in kept)
        head += bytes(buf[tensors_start : r.pos])
        head += bytes(-len(head) % alignment)
        with dst.open("wb") as out:
            out.write(head)
            out.write(buf[data_start:])
    return dst


def _skip_tensor_table(r: _Reader, n_tensors: int) -> None:
    for _ in range(n_tensors):
        r.string()
        n_dims = r.u32()
        for _ in range(n_dims):
            r.u64()
        r.u32()
        r.u64()


def _plain_types(raw: bytes, tokens: list[str], plain: tuple[str, ...]) -> bytes:
    """The token_type key/value ``raw`` with each token in ``plain`` made normal."""
    out = bytearray(raw)
    values_at = len(raw) - 4 * len(tokens)
    for i, text in enumerate(tokens):
        if text in plain:
            struct.pack_into("<i", out, values_at + 4 * i, _NORMAL)
    return bytes(out)


def without_template(src: Path, dst: Path, *, plain: tuple[str, ...] = ()) -> Path:
    """A copy of ``src`` with no chat template (and ``plain`` tokens made normal)."""
    return edit_gguf(src, dst, drop=("tokenizer.chat_template",), plain=plain)
