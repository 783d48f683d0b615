"""Copies of a real GGUF model with its chat template replaced, for tests.

The header is walked with thinkcli's own reader and written again with one key/value
changed (the writing reuses test_models' tiny GGUF writer); the tensor table is copied
as it is and the tensor data byte for byte, realigned, so llama.cpp loads the copy as it
loads the original.
"""

from __future__ import annotations

import mmap
import shutil
import struct
from pathlib import Path

from test_models import _string, _value

from thinkcli.models.gguf import DEFAULT_ALIGNMENT, _Reader

TEMPLATE_KEY = "tokenizer.chat_template"


def with_chat_template(source: Path, target: Path, template: str | None) -> Path:
    """Write ``target``: ``source`` with ``tokenizer.chat_template`` set to ``template``
    (None: removed). Returns ``target``."""
    with source.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        r = _Reader(buf, len(buf))
        r.pos = 4
        version, n_tensors, n_kv = r.u32(), r.u64(), r.u64()
        ours = b"" if template is None else _string(TEMPLATE_KEY) + _value(template)
        kept, alignment, replaced = [], DEFAULT_ALIGNMENT, False
        for _ in range(n_kv):
            start = r.pos
            key = r.string()
            value = r.value(r.u32(), key)
            if key == "general.alignment":
                alignment = value
            replaced = replaced or key == TEMPLATE_KEY
            kept.append(ours if key == TEMPLATE_KEY else buf[start : r.pos])
        if not replaced:
            kept.append(ours)
        kept = [entry for entry in kept if entry]
        tensors_at = r.pos
        for _ in range(n_tensors):
            r.string()
            n_dims = r.u32()
            r.pos += 8 * n_dims + 4 + 8  # dims, type, offset
        table = buf[tensors_at : r.pos]
        data_at = r.pos + (-r.pos % alignment)
        header = b"GGUF" + struct.pack("<IQQ", version, n_tensors, len(kept)) + b"".join(kept) + table
        with target.open("wb") as out:
            out.write(header + b"\0" * (-len(header) % alignment))
            f.seek(data_at)
            shutil.copyfileobj(f, out, 1 << 20)
    return target
