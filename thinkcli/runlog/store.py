"""The run log: every ask, chat turn and batch problem, in one SQLite file (``<data dir>/thinkcli.db``).

``RunStore`` writes a run in one transaction (a crash cannot tear it), lists and searches
runs newest first, keeps chat sessions as their turns' runs, and raises ``StoreError``
(one line naming the file) for a store it cannot open, read or write.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from thinkcli.config import data_dir
from thinkcli.errors import ThinkError
from thinkcli.runlog.record import RunRecord, precise, precise_now
from thinkcli.runlog.tokens import PathTokens, pack, unpack

DB_NAME = "thinkcli.db"
BUSY_TIMEOUT_MS = 15_000  # another process writing: wait this long for the lock
SCHEMA_VERSION = 1
KEPT_BY_CLEAR = ("schema", "session_files_imported")  # facts about the file, not records

# Each run's per-token confidences (thinkcli.runlog.tokens.pack), apart from its record so that
# listing and ``--json`` never read them. Added to logs made before it, which stay readable.
_TOKENS_TABLE = "CREATE TABLE IF NOT EXISTS tokens (run INTEGER PRIMARY KEY, data BLOB NOT NULL)"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    command TEXT NOT NULL,
    session TEXT,
    turn INTEGER,
    question TEXT NOT NULL,
    system TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    effort TEXT NOT NULL DEFAULT '',
    plan TEXT,
    result TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT '',
    tokens INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS runs_session ON runs (session, turn)",
    """CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY,
    system TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    turns INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    _TOKENS_TABLE,
)

# Full-text search over questions and answers, kept in step by triggers (runs are never
# updated in place). A sqlite built without FTS5 gets none of this and searches with LIKE.
_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS runs_fts USING fts5(question, answer, content='runs', content_rowid='id')",
    """CREATE TRIGGER IF NOT EXISTS runs_fts_insert AFTER INSERT ON runs BEGIN
    INSERT INTO runs_fts (rowid, question, answer) VALUES (new.id, new.question, new.answer);
    END""",
    """CREATE TRIGGER IF NOT EXISTS runs_fts_delete AFTER DELETE ON runs BEGIN
    INSERT INTO runs_fts (runs_fts, rowid, question, answer) VALUES ('delete', old.id, old.question, old.answer);
    END""",
)

_LIST_COLUMNS = "id, started, finished, command, session, turn, question, system, model, effort, answer, tokens, interrupted"


class StoreError(ThinkError):
    """The run log cannot be opened, read or written; the message names the file."""


def store_path(env: Mapping[str, str]) -> Path:
    """Where the run log lives: ``<data dir>/thinkcli.db``."""
    return data_dir(env) / DB_NAME


class RunStore:
    """The SQLite run log at ``path``; use as a context manager, or call ``close()``.

    Args:
        path: the database file.
        create: make the file (mode 0600) if it is missing; otherwise a missing file
            reads as an empty log and nothing is created.
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self.fts = False
        self._tokens = True  # the log has a tokens table
        if not create and not path.exists():
            return
        with _errors(self.path, "open"):
            if create:
                _create_private(path)
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._setup()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- writing ----------------------------------------------------------------

    def record(self, run: RunRecord, *, session_system: str | None = None, bump: str | None = None) -> int:
        """Write one run in one transaction; returns its id.

        Args:
            run: the run.
            session_system: for a chat turn, the session's system prompt (the session's
                row is made or updated, its length set to ``run.turn + 1``).
            bump: a counter in the meta table to add one to in the same transaction.
        """
        with self._transaction("write") as db:
            run_id = self._insert(db, run)
            if run.session is not None and run.turn is not None:
                self._touch_session(db, run.session, session_system or "", run.turn + 1, precise_now())
            if bump is not None:
                self._bump(db, bump)
            return run_id

    def record_session(self, name: str, system: str, runs: list[RunRecord], *, updated: float | None = None,
                       created: str = "") -> list[int]:
        """Write a whole session (one imported from a file) in one transaction; returns the runs' ids.

        ``updated`` (a ``time.time()`` value, e.g. the file's mtime) dates the session for
        ``--continue``; ``created`` is when it began (default: now).
        """
        when = precise_now() if updated is None else precise(updated)
        with self._transaction("write") as db:
            ids = [self._insert(db, run) for run in runs]
            self._touch_session(db, name, system, len(runs), when, created=created)
            return ids

    def set_session(self, name: str, *, system: str, turns: int) -> None:
        """Make or update a chat session's row: its system prompt and how many turns it holds."""
        with self._transaction("write") as db:
            self._touch_session(db, name, system, turns, precise_now())

    def bump(self, key: str) -> None:
        """Add one to a counter in the meta table."""
        with self._transaction("write") as db:
            self._bump(db, key)

    def clear(self) -> int:
        """Remove every run, session and counter (but those of ``KEPT_BY_CLEAR``); returns how many runs there were."""
        if self._db is None:
            return 0
        with self._transaction("clear") as db:
            count = db.execute("SELECT count(*) FROM runs").fetchone()[0]
            db.execute("DELETE FROM runs")
            db.execute("DELETE FROM sessions")
            db.execute("DELETE FROM tokens")
            db.execute(f"DELETE FROM meta WHERE key NOT IN ({', '.join('?' * len(KEPT_BY_CLEAR))})", KEPT_BY_CLEAR)
            if self.fts:
                db.execute("INSERT INTO runs_fts (runs_fts) VALUES ('rebuild')")
        with _errors(self.path, "clear"):
            self._db.execute("VACUUM")  # the deleted text leaves the file, not just the index
        return count

    # -- reading ----------------------------------------------------------------

    def get(self, run_id: int) -> dict | None:
        """The whole record of run ``run_id`` (see ``full``), or None."""
        rows = self._query(f"SELECT {_LIST_COLUMNS}, plan, result FROM runs WHERE id = ?", (run_id,))
        return _full(rows[0]) if rows else None

    def last(self) -> dict | None:
        """The newest run's whole record, or None when the log is empty."""
        rows = self._query(f"SELECT {_LIST_COLUMNS}, plan, result FROM runs ORDER BY id DESC LIMIT 1")
        return _full(rows[0]) if rows else None

    def recent(self, limit: int, *, query: str | None = None, full: bool = False) -> list[dict]:
        """Up to ``limit`` runs, newest first; ``query`` keeps those whose question or answer has its words.

        ``full`` adds each run's plan and result; otherwise only the columns a listing needs.
        """
        columns = _LIST_COLUMNS + (", plan, result" if full else "")
        if not query:
            rows = self._query(f"SELECT {columns} FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        elif self.fts:
            rows = self._query(
                f"SELECT {columns} FROM runs WHERE id IN (SELECT rowid FROM runs_fts WHERE runs_fts MATCH ?)"
                " ORDER BY id DESC LIMIT ?", (_fts_query(query), limit))
        else:
            like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = self._query(
                f"SELECT {columns} FROM runs WHERE question LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\'"
                " ORDER BY id DESC LIMIT ?", (like, like, limit))
        return [_full(row) if full else dict(row) for row in rows]

    def tokens(self, run_id: int) -> list[PathTokens] | None:
        """Run ``run_id``'s per-token confidences, one ``PathTokens`` per path; None when not kept."""
        if self._db is None or not self._tokens:
            return None
        with _errors(self.path, "read"):
            row = self._db.execute("SELECT data FROM tokens WHERE run = ?", (run_id,)).fetchone()
        if row is None:
            return None
        try:
            return unpack(row["data"])
        except ValueError as exc:
            raise StoreError(f"{self.path}: run {run_id}: {exc}") from None

    def latest(self, command: str) -> dict[tuple[str, str], int]:
        """The newest run id of each (question, effort) that ``command`` recorded."""
        rows = self._query("SELECT max(id) AS id, question, effort FROM runs WHERE command = ? GROUP BY question, effort",
                           (command,))
        return {(row["question"], row["effort"]): int(row["id"]) for row in rows}

    def count(self) -> int:
        rows = self._query("SELECT count(*) AS n FROM runs")
        return int(rows[0]["n"]) if rows else 0

    def counter(self, key: str) -> int:
        """A counter kept in the meta table (0 when never bumped)."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return int(rows[0]["value"]) if rows else 0

    def session(self, name: str) -> dict | None:
        """A chat session's row (name, system, created, updated, turns), or None."""
        rows = self._query("SELECT * FROM sessions WHERE name = ?", (name,))
        return dict(rows[0]) if rows else None

    def sessions(self) -> list[dict]:
        """Every chat session's row, the one used most recently last."""
        return [dict(row) for row in self._query("SELECT * FROM sessions ORDER BY updated, rowid")]

    def last_session(self) -> str | None:
        """The name of the session written most recently, or None."""
        rows = self._query("SELECT name FROM sessions ORDER BY updated DESC, rowid DESC LIMIT 1")
        return rows[0]["name"] if rows else None

    def session_turns(self, name: str, turns: int) -> list[dict]:
        """A session's conversation: for each turn index below ``turns``, its newest run, in order."""
        rows = self._query(
            f"SELECT {_LIST_COLUMNS}, plan, result FROM runs WHERE id IN"
            " (SELECT max(id) FROM runs WHERE session = ? AND turn < ? GROUP BY turn) ORDER BY turn",
            (name, turns))
        return [_full(row) for row in rows]

    # -- inside -----------------------------------------------------------------

    def _setup(self) -> None:
        db = self._db
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot use write-ahead logging (journal mode {mode})")
        has = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if {"runs", "sessions", "meta"} <= has:
            self.fts = "runs_fts" in has
            self._check_version()
            if "tokens" not in has:
                try:
                    db.execute(_TOKENS_TABLE)
                except sqlite3.OperationalError:  # a log this user may only read: it has no token data
                    self._tokens = False
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            db.execute("SAVEPOINT fts")
            try:
                for statement in _FTS:
                    db.execute(statement)
                self.fts = True
            except sqlite3.OperationalError:  # no FTS5 in this sqlite: search falls back to LIKE
                db.execute("ROLLBACK TO fts")
            db.execute("RELEASE fts")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._check_version()

    def _check_version(self) -> None:
        version = self.counter("schema")
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"written by a newer thinkcli (schema {version}, this one reads {SCHEMA_VERSION})")

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        if self._db is None:
            return []
        with _errors(self.path, "read"):
            return self._db.execute(sql, args).fetchall()

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error."""
        db = self._db
        if db is None:
            raise StoreError(f"{self.path}: the run log is not open")
        with _errors(self.path, what):
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _insert(db: sqlite3.Connection, run: RunRecord) -> int:
        result = run.result
        cur = db.execute(
            "INSERT INTO runs (started, finished, command, session, turn, question, system, model, effort,"
            " plan, result, answer, tokens, interrupted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run.started, run.finished, run.command, run.session, run.turn, run.question, run.system,
             result.model, result.effort, None if run.plan is None else json.dumps(run.plan),
             json.dumps(result.to_dict(), ensure_ascii=False), result.answer,
             result.stats.generated_tokens, int(result.interrupted)),
        )
        run_id = int(cur.lastrowid)
        blob = pack(result.tokens) if result.tokens else None
        if blob is not None:
            db.execute("INSERT INTO tokens (run, data) VALUES (?, ?)", (run_id, blob))
        return run_id

    @staticmethod
    def _touch_session(db: sqlite3.Connection, name: str, system: str, turns: int, when: str,
                       created: str = "") -> None:
        db.execute(
            "INSERT INTO sessions (name, system, created, updated, turns) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET system = excluded.system, updated = excluded.updated,"
            " turns = excluded.turns", (name, system, created or when, when, turns))

    @staticmethod
    def _bump(db: sqlite3.Connection, key: str) -> None:
        db.execute("INSERT INTO meta (key, value) VALUES (?, '1')"
                   " ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1", (key,))


@contextmanager
def _errors(path: Path, what: str) -> Iterator[None]:
    """Turn sqlite's and the file system's errors into one ``StoreError`` line naming the file."""
    try:
        yield
    except sqlite3.Error as exc:
        if "not a database" in str(exc):
            raise StoreError(f"{path}: not a thinkcli run log (the file is damaged or foreign)") from None
        raise StoreError(f"{path}: cannot {what} the run log ({exc})") from None
    except OSError as exc:
        raise StoreError(f"{path}: {exc.strerror or exc}") from None


def _create_private(path: Path) -> None:
    """Make the file readable by the user alone before sqlite opens it, and its directory
    too when this makes it.

    SQLite gives the ``-wal`` and ``-shm`` files the database file's permissions. A
    directory made here is 0700 (only the last one: missing parents such as
    ``~/.local/share`` get the usual permissions); one that already exists keeps its
    mode, since it may be a directory the user chose and set up (``THINKCLI_HOME``),
    and the file in it is private either way.
    """
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.parent.mkdir(mode=0o700)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def _fts_query(text: str) -> str:
    """The user's words as FTS5 terms, each quoted, so ``12+7?`` is text and not syntax."""
    words = text.split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words) or '""'


def _full(row: sqlite3.Row) -> dict:
    """A run as ``thinkcli log --json`` prints it: where it came from, then its ``--json`` record."""
    data = dict(row)
    record = json.loads(data["result"])
    plan = data["plan"]
    head = {k: data[k] for k in ("id", "started", "finished", "command", "session", "turn", "question", "system")}
    return {**head, "plan": json.loads(plan) if plan else None, **record}
