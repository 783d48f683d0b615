"""Read a problem file: JSONL records or plain text, one problem per line.

A JSONL record is ``{"id", "question" (or "prompt"), "answer"?, "effort"?, "system"?}``;
a text line is a question whose id is its line number. A line that cannot be read is
reported with its number and skipped; the others still run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from thinkcli.errors import UsageError

FORMATS = ("jsonl", "text")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem to solve.

    Args:
        id: unique within the file (a record's ``id``, else its line number), as text.
        question: what the model is asked.
        line: the line it came from, for messages.
        answer: the expected answer, when the file gives one (then the result is graded).
        effort: this problem's own effort level, overriding the run's.
        system: this problem's own system prompt.
    """

    id: str
    question: str
    line: int
    answer: str | None = None
    effort: str | None = None
    system: str | None = None


def guess_format(path: str, given: str | None) -> str:
    """``--format`` if given, else from the extension (``.jsonl``/``.json`` or text)."""
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"--format must be one of: {', '.join(FORMATS)}; got {given!r}")
        return given
    return "jsonl" if Path(path).suffix.lower() in (".jsonl", ".json", ".ndjson") else "text"


def parse_problems(text: str, fmt: str) -> tuple[list[Problem], list[str]]:
    """The problems in ``text``, and one message per line that was skipped."""
    problems: list[Problem] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            problem = _record(line, number) if fmt == "jsonl" else Problem(str(number), line.strip(), number)
        except ValueError as exc:
            skipped.append(f"line {number}: {exc}")
            continue
        if problem.id in seen:
            skipped.append(f"line {number}: id {problem.id!r} appears twice; keeping the first")
            continue
        seen.add(problem.id)
        problems.append(problem)
    return problems, skipped


def _record(line: str, number: int) -> Problem:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    question = data.get("question", data.get("prompt"))
    if not isinstance(question, str) or not question.strip():
        raise ValueError('needs a non-empty "question" (or "prompt") string')
    fields = {}
    for key in ("answer", "effort", "system"):
        value = data.get(key)
        numeric = key == "answer" and isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and not (isinstance(value, str) or numeric):
            raise ValueError(f'"{key}" must be a string' + (" or a number" if key == "answer" else ""))
        fields[key] = None if value is None else str(value)
    ident = data.get("id", number)
    if isinstance(ident, bool) or not isinstance(ident, (str, int)):
        raise ValueError('"id" must be a string or an integer')
    return Problem(str(ident), question.strip(), number, **fields)
