"""The graded problem sets thinkcli ships (written by benchmarks/make_sets.py).

``arithmetic``, ``facts``, ``logic`` and ``mixed``, 40 problems each, and for each a
``-heldout`` twin of 40 others that tuning never sees.
"""

from __future__ import annotations

from pathlib import Path

from thinkcli.errors import UsageError

HERE = Path(__file__).parent


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.jsonl"))


def problem_file(source: str) -> Path:
    """A path, or a set thinkcli ships by name (``mixed``, ``arithmetic-heldout``...)."""
    path = Path(source).expanduser()
    if path.is_file() or "/" in source or source == "-":
        return path
    shipped = HERE / f"{source}.jsonl"
    if shipped.is_file():
        return shipped
    if path.suffix:
        return path  # a file name: reading it says it is missing
    raise UsageError(f"{source}: no such file, nor a problem set thinkcli ships ({', '.join(names())})")
