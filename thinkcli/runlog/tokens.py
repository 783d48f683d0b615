"""Per-token confidences of a run's paths, and where each token's text lies, kept compactly.

``TokenTrace`` follows one path as it decodes; ``pack`` turns a run's traces into one
blob for the run log (float16 confidences, varint token lengths); ``unpack`` gives back a
``PathTokens`` per path, whose spans index the path's recorded reasoning + answer.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Sequence

from thinkcli.vote import group_confidences, group_size

FORMAT = 1  # the blob's first byte: its layout's version
INSERTED = math.nan  # the confidence of text thinkcli wrote into a path (no token of the model's)


class TokenTrace:
    """One path's tokens as it decodes: each one's confidence and the text lengths after it.

    Entries are appended in order; an entry covers the reasoning grown since the entry
    before it, and the answer likewise. Text thinkcli injects gets an entry of its own
    whose confidence is ``INSERTED``. Lengths are of the path's raw (unstripped) texts;
    ``lead`` says how much leading white space the recorded, stripped texts lost.
    """

    __slots__ = ("confidences", "reasoning_ends", "answer_ends", "lead", "kept")

    def __init__(self) -> None:
        self.confidences: list[float] = []
        self.reasoning_ends: list[int] = []
        self.answer_ends: list[int] = []
        self.lead = (0, 0)  # leading white space stripped from the recorded reasoning and answer
        self.kept = (0, 0)  # the recorded (stripped) reasoning's and answer's lengths

    def __len__(self) -> int:
        return len(self.confidences)

    def end(self) -> tuple[int, int]:
        """The reasoning and answer lengths the last entry reached."""
        if not self.confidences:
            return 0, 0
        return self.reasoning_ends[-1], self.answer_ends[-1]

    def add(self, confidence: float, reasoning: int, answer: int) -> None:
        """One entry that ends at these text lengths (``INSERTED`` for thinkcli's own text)."""
        self.confidences.append(confidence)
        self.reasoning_ends.append(reasoning)
        self.answer_ends.append(answer)

    def insert(self, reasoning: int, answer: int) -> None:
        """Text thinkcli wrote up to these lengths, if any grew since the last entry."""
        if (reasoning, answer) != self.end():
            self.add(INSERTED, reasoning, answer)

    def extend(self, reasoning: int, answer: int) -> None:
        """Text that grew without a token of its own (held back, then let go) joins the last entry."""
        if not self.confidences:
            self.insert(reasoning, answer)
        elif (reasoning, answer) != self.end():
            self.reasoning_ends[-1], self.answer_ends[-1] = reasoning, answer

    def drop(self, n: int) -> None:
        """Forget the last ``n`` model tokens (rewound), with the text they covered."""
        while n > 0 and self.confidences:
            if not math.isnan(self.confidences.pop()):
                n -= 1
            self.reasoning_ends.pop()
            self.answer_ends.pop()

    def keep(self, reasoning: str, answer: str) -> None:
        """Note how the path's raw texts become the recorded ones (``.strip()``)."""
        self.lead = (len(reasoning) - len(reasoning.lstrip()), len(answer) - len(answer.lstrip()))
        self.kept = (len(reasoning.strip()), len(answer.strip()))

    def spans(self):
        """Each entry's length in the recorded reasoning + answer, and its confidence (numpy arrays)."""
        import numpy as np

        (lead_r, lead_a), (len_r, len_a) = self.lead, self.kept
        reasoning = np.clip(np.asarray(self.reasoning_ends, dtype=np.int64) - lead_r, 0, len_r)
        answer = np.clip(np.asarray(self.answer_ends, dtype=np.int64) - lead_a, 0, len_a)
        ends = np.maximum.accumulate(reasoning + answer) if len(self) else np.zeros(0, dtype=np.int64)
        return np.diff(ends, prepend=0), np.asarray(self.confidences, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class PathTokens:
    """One recorded path's tokens: where each ends in reasoning + answer, and its confidence.

    Args:
        ends: the offset in ``reasoning + answer`` (the recorded, stripped texts) where
            each token ends; a token starts where the one before it ends.
        confidences: each token's confidence; None for text thinkcli wrote.
        split: the reasoning's length (where the answer starts).
    """

    ends: tuple[int, ...]
    confidences: tuple[float | None, ...]
    split: int

    def scored(self) -> list[float]:
        """The model's tokens' confidences, in order (what the path's confidence was made of)."""
        return [c for c in self.confidences if c is not None]

    def lowest_window(self, measure: str = "lowest") -> tuple[int, int, float] | None:
        """The window of tokens that set the path's confidence: first and past-last token index, and its mean.

        ``lowest`` and ``bottom10`` mark the lowest window, ``tail`` the last one
        (see ``thinkcli.vote.trace_confidence``); None for a path without scored tokens.
        """
        index = [i for i, c in enumerate(self.confidences) if c is not None]
        scores = [self.confidences[i] for i in index]
        if not scores:
            return None
        window = group_size(len(scores))
        groups = group_confidences(scores, window)
        if measure == "tail":
            start = len(groups) - 1
        else:
            start = min(range(len(groups)), key=groups.__getitem__)
        last = min(start + window, len(index)) - 1
        return index[start], index[last] + 1, groups[start]


def pack(traces: Sequence[TokenTrace | None]) -> bytes | None:
    """A run's traces as one compressed blob; None when no path has a token.

    Per path: its entry count, the reasoning's length, the byte width of the token
    lengths (2 or 4), the lengths, then the confidences as float16 (NaN: thinkcli's text).
    Each array is stored byte plane by byte plane (all low bytes, then all high bytes),
    which zlib's fastest level squeezes better than its slowest does the plain arrays.
    """
    import numpy as np

    if not any(traces):
        return None
    out = bytearray([FORMAT])
    _varint(out, len(traces))
    for trace in traces:
        if not trace:
            out += bytes([0, 0, 2])
            continue
        lengths, confidences = trace.spans()
        wide = bool(len(lengths)) and int(lengths.max()) > 0xFFFF
        _varint(out, len(lengths))
        _varint(out, trace.kept[0])
        out.append(4 if wide else 2)
        out += _planes(lengths.astype("<u4" if wide else "<u2"))
        out += _planes(np.clip(confidences, -65504.0, 65504.0).astype("<f2"))
    return zlib.compress(bytes(out), 1)


def unpack(blob: bytes) -> list[PathTokens]:
    """The paths ``pack`` wrote; raises ValueError for a blob it cannot read."""
    import numpy as np

    try:
        data = zlib.decompress(blob)
    except zlib.error as exc:
        raise ValueError(f"damaged token data ({exc})") from None
    if not data or data[0] != FORMAT:
        raise ValueError(f"token data of an unknown format ({data[:1].hex() or 'empty'})")
    count, pos = _read_varint(data, 1)
    paths = []
    for _ in range(count):
        n, pos = _read_varint(data, pos)
        split, pos = _read_varint(data, pos)
        width = data[pos] if pos < len(data) else 0
        pos += 1
        if width not in (2, 4) or pos + (width + 2) * n > len(data):
            raise ValueError("token data cut short")
        lengths = _unplanes(data, pos, n, "<u4" if width == 4 else "<u2")
        pos += width * n
        values = _unplanes(data, pos, n, "<f2").astype(np.float64)
        pos += 2 * n
        confidences = tuple(None if math.isnan(v) else v for v in values.tolist())
        paths.append(PathTokens(tuple(np.cumsum(lengths, dtype=np.int64).tolist()), confidences, split))
    return paths


def _planes(values) -> bytes:
    """An array's bytes, byte plane by byte plane."""
    return values.view("u1").reshape(-1, values.itemsize).T.tobytes()


def _unplanes(data: bytes, pos: int, n: int, dtype: str):
    """The ``n`` values of ``dtype`` that ``_planes`` wrote at ``pos``."""
    import numpy as np

    size = np.dtype(dtype).itemsize
    planes = np.frombuffer(data, dtype="u1", count=n * size, offset=pos).reshape(size, n)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(n)


def _varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("token data cut short")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
