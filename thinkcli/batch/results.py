"""The output of a batch run: one JSON line per problem, appended as each one finishes.

Resuming reads back which (id, effort) pairs a file already holds. A last line without its
newline is judged once, the same way for both: a whole record is kept (and given its newline),
a torn one (the run was killed mid-write) is dropped, so the file is never left unreadable.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import IO

from thinkcli.batch.grade import grade
from thinkcli.batch.problems import Problem
from thinkcli.events import Result


def record(problem: Problem, effort: str, result: Result | None, *, error: str | None = None,
           show_reasoning: bool = False) -> dict:
    """One output line: the problem, what was answered, the paths, stats, and the grade."""
    out: dict = {"id": problem.id, "question": problem.question, "effort": effort}
    if result is None:
        out["error"] = error or "failed"
        if problem.answer is not None:
            out["expected"] = problem.answer
        return out
    chosen = result.samples[result.chosen] if result.samples else None
    out.update(answer=result.answer, extracted=chosen.extracted if chosen else None)
    if show_reasoning:
        out["reasoning"] = result.reasoning
    out["paths"] = [
        {"extracted": s.extracted, "thinking_tokens": s.thinking_tokens, "answer_tokens": s.answer_tokens,
         "confidence": s.confidence, "think_end": s.think_end, "answer_end": s.answer_end}
        | ({"reasoning": s.reasoning} if show_reasoning and len(result.samples) > 1 else {})
        for s in result.samples
    ]
    out["chosen"] = result.chosen
    out["stats"] = asdict(result.stats)
    if problem.answer is not None:
        out["expected"] = problem.answer
        out["correct"] = grade(result.answer, out["extracted"], problem.answer)
    return out


def done_keys(path: Path) -> set[tuple[str, str]]:
    """The (id, effort) pairs already in ``path`` that have a result (errors are retried)."""
    keys = set()
    for rec in read_records(path):
        if "error" not in rec:
            keys.add((str(rec.get("id")), str(rec.get("effort"))))
    return keys


def read_records(path: Path) -> list[dict]:
    """Every whole record in ``path``; a line that is not one (a torn write) is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    # Lines end on "\n" alone: str.splitlines would also break at U+2028 or NEL, which
    # json.dumps(ensure_ascii=False) leaves unescaped inside an answer.
    return [rec for line in text.split("\n") if (rec := _parse(line)) is not None]


def _parse(line: str | bytes) -> dict | None:
    """The record on ``line``, or None when it is not one (a torn write, a stray value)."""
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return rec if isinstance(rec, dict) else None


class ResultWriter:
    """Appends records to a file (or stdout), flushed and synced one by one.

    Args:
        stream: where lines go.
        sync: fsync after each line (a file; not a pipe).
    """

    def __init__(self, stream: IO[str], *, sync: bool) -> None:
        self._stream = stream
        self._sync = sync

    @classmethod
    def open(cls, path: Path, *, overwrite: bool) -> ResultWriter:
        """Open ``path`` for appending (``overwrite``: start it empty), healing a torn last line."""
        if not overwrite and path.exists():
            _heal(path)
        stream = path.open("w" if overwrite else "a", encoding="utf-8")
        return cls(stream, sync=True)

    def write(self, rec: dict) -> None:
        """Append one record as a line, flushed (and synced for a file)."""
        self._stream.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._stream.flush()
        if self._sync:
            os.fsync(self._stream.fileno())

    def close(self) -> None:
        """Close the file; a stream that was handed in stays open."""
        if self._sync:
            self._stream.close()


def _heal(path: Path) -> None:
    """End ``path`` on a newline: complete a whole last record, cut a torn one.

    The test is :func:`_parse`, the one :func:`read_records` (and so :func:`done_keys`)
    applies, so a record counted as done is a record the file keeps.
    """
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    start = data.rfind(b"\n") + 1
    with path.open("r+b") as f:
        if _parse(data[start:]) is not None:
            f.seek(len(data))
            f.write(b"\n")
        else:
            f.truncate(start)
