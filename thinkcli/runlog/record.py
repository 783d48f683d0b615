"""One run as the log keeps it, and the times it carries (UTC ISO 8601)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from thinkcli.events import Result


def now() -> str:
    """The current time as UTC ISO 8601, to the second (``2026-01-31T09:15:02Z``)."""
    return stamp(time.time())


def stamp(seconds: float) -> str:
    """A ``time.time()`` value as UTC ISO 8601, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def precise_now() -> str:
    """UTC ISO 8601 to the microsecond: orders sessions touched within one second."""
    return precise(time.time())


def precise(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class RunRecord:
    """One run to record: what was asked, how, and the ``Result`` (stored as ``--json`` prints it).

    Args:
        command: ``ask``, ``chat`` or ``batch``.
        question: the question as sent (with any piped context).
        result: the run's result.
        started: when the run began (``now()``).
        finished: when it ended (default: when recorded).
        system: the system prompt.
        plan: the plan's fields (budgets, sampling), or None when unknown.
        session: the chat session's name.
        turn: the turn's index in its session (0 first).
    """

    command: str
    question: str
    result: Result
    started: str
    finished: str = field(default_factory=now)
    system: str = ""
    plan: dict | None = None
    session: str | None = None
    turn: int | None = None
