"""Recording runs once their answer is shown: a failure is one warning line on stderr and
changes nothing else."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass

from thinkcli.env import Environment
from thinkcli.runlog.record import RunRecord
from thinkcli.runlog.store import RunStore, StoreError, store_path

HINT_KEY = "trace_hints"
HINT_TIMES = 3  # the folded line says how to unfold it this many times, then no more


class Recorder:
    """Where a command's runs are recorded (nowhere when logging is off).

    Args:
        env: the process environment (the data directory, stderr for warnings).
        enabled: ``log`` is on and ``--no-log`` was not given.
    """

    def __init__(self, env: Environment, *, enabled: bool) -> None:
        self.env = env
        self.enabled = enabled
        self.path = store_path(env.vars)
        self._store: RunStore | None = None

    def hint_wanted(self) -> bool:
        """Whether the folded line should still say how to unfold it (logging on, shown fewer than 3 times)."""
        if not self.enabled:
            return False
        try:
            if self._store is not None:
                return self._store.counter(HINT_KEY) < HINT_TIMES
            with RunStore(self.path, create=False) as store:
                return store.counter(HINT_KEY) < HINT_TIMES
        except StoreError:
            return False  # recording will say what is wrong

    def record(self, run: RunRecord, *, hinted: bool = False, session_system: str | None = None) -> int | None:
        """Write ``run``; returns its id, or None when logging is off or the write failed (said on stderr)."""
        if not self.enabled:
            return None
        try:
            if self._store is None:
                self._store = RunStore(self.path)
            return self._store.record(run, bump=HINT_KEY if hinted else None, session_system=session_system)
        except StoreError as exc:
            self.warn(f"could not record the run: {exc}")
            return None

    def store(self) -> RunStore | None:
        """The open store (opened now if need be), or None when logging is off."""
        if not self.enabled:
            return None
        if self._store is None:
            self._store = RunStore(self.path)
        return self._store

    def warn(self, text: str) -> None:
        try:
            self.env.stderr.write(f"thinkcli: warning: {text}\n")
            self.env.stderr.flush()
        except (OSError, ValueError):
            pass  # stderr is gone: nothing else to tell

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def plan_dict(plan: object) -> dict | None:
    """A plan's fields for the record (None when there is no plan)."""
    return asdict(plan) if is_dataclass(plan) else None
