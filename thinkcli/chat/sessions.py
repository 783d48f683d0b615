"""Chat sessions that are never lost: the conversation, its JSON form, and where it is kept.

A ``Conversation`` is the system prompt and the exchanges so far. ``SessionStore`` keeps
sessions in the run log (``thinkcli.runlog``): each turn is one recorded run, and a
conversation is rebuilt from its turns' runs. Session files of earlier versions
(``<data dir>/sessions/NAME.json``) are imported the first time they are looked up.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from thinkcli.errors import InputError
from thinkcli.events import Result, SampleResult, Stats
from thinkcli.runlog.record import RunRecord, stamp
from thinkcli.runlog.store import RunStore, StoreError
from thinkcli.reasoning import history_messages

IMPORTED = "session_files_imported"  # the run log's counter: the files of earlier versions are in
FORMAT = "thinkcli-chat"
VERSION = 1
_SUMMARY_DROP = ("reasoning", "answer")  # a path's summary: everything but its text


@dataclass(slots=True)
class Exchange:
    """One question and what the model made of it."""

    question: str
    answer: str = ""
    reasoning: str = ""
    effort: str = ""
    model: str = ""
    interrupted: bool = False
    chosen: int = 0
    samples: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)  # each path's full reasoning, for /trace N
    run: int | None = None  # its id in the run log (None when not recorded)

    @classmethod
    def from_result(cls, question: str, result: Result, run: int | None = None) -> Exchange:
        samples = [{k: v for k, v in asdict(s).items() if k not in _SUMMARY_DROP} for s in result.samples]
        return cls(
            question=question, answer=result.answer, reasoning=result.reasoning, effort=result.effort,
            model=result.model, interrupted=result.interrupted, chosen=result.chosen, samples=samples,
            stats=asdict(result.stats), paths=[s.reasoning for s in result.samples], run=run,
        )

    def to_result(self) -> Result:
        """The result this exchange keeps (a path's own answer only for the chosen path)."""
        samples = []
        for i, summary in enumerate(self.samples):
            known = {k: v for k, v in summary.items() if k in SampleResult.__dataclass_fields__}
            reasoning = self.paths[i] if i < len(self.paths) else ""
            samples.append(SampleResult(**{**known, "reasoning": reasoning,
                                           "answer": self.answer if i == self.chosen else ""}))
        stats = Stats(**{k: v for k, v in self.stats.items() if k in Stats.__dataclass_fields__})
        return Result(answer=self.answer, reasoning=self.reasoning, model=self.model, effort=self.effort,
                      samples=samples, chosen=self.chosen, interrupted=self.interrupted, stats=stats)


@dataclass(slots=True)
class Conversation:
    """The system prompt and the exchanges so far.

    Args:
        name: the session's name (its file is ``NAME.json``).
        system: the system prompt ("" for none).
        exchanges: the turns, oldest first.
        created: when the session began (ISO 8601, UTC).
    """

    name: str
    system: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def messages(self, question: str, *, skip: int = 0, chat_template: str | None = None) -> list[dict]:
        """The messages for a turn asking ``question``, earlier reasoning as the template expects.

        The answer alone is an assistant turn's content; its reasoning goes in the
        separate field the template reads, if it reads one (and is dropped otherwise:
        see ``reasoning.history_messages``). An exchange with no answer (interrupted while
        thinking) is left out. ``skip`` leaves out that many of the oldest exchanges.
        """
        out = [{"role": "system", "content": self.system}] if self.system else []
        for ex in self.exchanges[skip:]:
            if ex.answer.strip():
                out += [{"role": "user", "content": ex.question},
                        {"role": "assistant", "content": ex.answer, "reasoning": ex.reasoning}]
        return history_messages(chat_template, out + [{"role": "user", "content": question}])

    def to_dict(self) -> dict:
        turns = [{k: v for k, v in asdict(ex).items() if k != "run"} for ex in self.exchanges]
        return {
            "format": FORMAT, "version": VERSION, "name": self.name, "created": self.created,
            "system": self.system, "turns": turns,
        }

    @classmethod
    def from_dict(cls, data: object, where: str) -> Conversation:
        """Read a session document; anything foreign, newer or malformed is an ``InputError``."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{where}: not a thinkcli chat session")
        version = data.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise InputError(f"{where}: session format {version!r} is newer than this thinkcli reads ({VERSION})")
        try:
            turns = [_exchange(turn) for turn in data["turns"]]
            return cls(name=str(data["name"]), system=str(data.get("system", "")), exchanges=turns,
                       created=str(data.get("created", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{where}: a malformed session ({type(exc).__name__}: {exc})") from None


def _exchange(turn: object) -> Exchange:
    if not isinstance(turn, dict) or not isinstance(turn.get("question"), str):
        raise ValueError("a turn without its question")
    known = {k: v for k, v in turn.items() if k in Exchange.__dataclass_fields__}
    ex = Exchange(**known)
    if not isinstance(ex.answer, str) or not isinstance(ex.reasoning, str):
        raise ValueError("a turn whose answer or reasoning is not text")
    return ex


def markdown(conv: Conversation) -> str:
    """A readable transcript: each question, the reasoning folded in a details block, the answer."""
    parts = [f"# thinkcli chat: {conv.name}\n"]
    if conv.system:
        parts.append(f"**System:** {conv.system}\n")
    for i, ex in enumerate(conv.exchanges, 1):
        parts.append(f"## {i}. {ex.question.splitlines()[0] if ex.question else ''}\n")
        parts.append("\n".join("> " + line for line in ex.question.splitlines()) + "\n")
        if ex.reasoning.strip():
            tokens = ex.stats.get("thinking_tokens", 0)
            parts.append(f"<details><summary>Thought ({tokens} tokens, effort {ex.effort})</summary>\n\n"
                         f"{ex.reasoning.strip()}\n\n</details>\n")
        parts.append(ex.answer.strip() + ("\n\n*(interrupted)*" if ex.interrupted else "") + "\n")
    return "\n".join(parts)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: a temporary file beside it, fsync, rename (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_session(path: Path) -> Conversation:
    """Load a session file; a missing, broken, foreign or newer one is a one-line ``InputError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno})") from None
    return Conversation.from_dict(data, str(path))


class SessionStore:
    """Chat sessions in the run log at ``path``; older ``NAME.json`` files in ``legacy`` are imported.

    Args:
        path: the run log (``<data dir>/thinkcli.db``).
        legacy: the directory of session files written by earlier versions.
        write: False when logging is off: sessions are read but nothing is written.
    """

    def __init__(self, path: Path, legacy: Path, *, write: bool = True) -> None:
        self.path = path
        self.legacy = legacy
        self.write = write
        self._store: RunStore | None = None

    def check_name(self, name: str) -> str:
        if not re.fullmatch(r"[\w.-]+", name) or name.startswith("."):
            raise InputError(f"session name {name!r}: use letters, digits, '.', '-' and '_'")
        return name

    def store(self) -> RunStore:
        """The run log, opened on first use (created only when writing is on)."""
        if self._store is None:
            self._store = RunStore(self.path, create=self.write)
        return self._store

    def new_name(self) -> str:
        base = time.strftime("%Y%m%d-%H%M%S")
        name, n = base, 1
        while self._exists(name):
            n += 1
            name = f"{base}-{n}"
        return name

    def _exists(self, name: str) -> bool:
        if (self.legacy / f"{name}.json").exists():
            return True
        try:
            return self.store().session(name) is not None
        except StoreError:
            return False  # a damaged log: the name is free as far as anyone can tell

    def last(self) -> Conversation | None:
        """The session used most recently, or None when there is none."""
        self._import_all()
        name = self.store().last_session()
        if name is not None:
            return self.open(name)
        files = [] if self.write else self._legacy_files()  # logging off: the files were not imported
        return self.open(files[-1].stem) if files else None

    def open(self, name: str) -> Conversation:
        """The named session, or a new one by that name."""
        self.check_name(name)
        self._import_all()
        row = self.store().session(name)
        if row is None:
            file = self.legacy / f"{name}.json"
            if self.write or not file.exists():
                return Conversation(name=name)
            conv = read_session(file)  # logging off: read the file, import nothing
            conv.name = name
            return conv
        runs = self.store().session_turns(name, row["turns"])
        turns = [Exchange.from_result(r["question"], Result.from_dict(r), run=r["id"]) for r in runs]
        return Conversation(name=name, system=row["system"], exchanges=turns, created=row["created"])

    def keep(self, conv: Conversation, *, updated: float | None = None) -> None:
        """Record every exchange of ``conv`` (a file being imported) as the session's turns, at once."""
        if not self.write:
            return
        runs = [RunRecord("chat", ex.question, ex.to_result(), conv.created or stamp(time.time()),
                          finished=conv.created or stamp(time.time()), system=conv.system, session=conv.name, turn=i)
                for i, ex in enumerate(conv.exchanges)]
        ids = self.store().record_session(conv.name, conv.system, runs, updated=updated, created=conv.created)
        for ex, run_id in zip(conv.exchanges, ids):
            ex.run = run_id

    def truncate(self, conv: Conversation) -> None:
        """The session now holds only ``conv``'s exchanges (after ``/undo``); their runs stay in the log."""
        if self.write and self.store().session(conv.name) is not None:
            self.store().set_session(conv.name, system=conv.system, turns=len(conv.exchanges))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _legacy_files(self) -> list[Path]:
        if not self.legacy.is_dir():
            return []
        return sorted(self.legacy.glob("*.json"), key=lambda p: p.stat().st_mtime)

    def _import_all(self) -> None:
        """Import the session files of earlier versions, once (a broken one is left for ``/load`` to report).

        Once done, it is never done again, so sessions deleted by ``log --clear`` stay deleted.
        """
        if not self.write or self.store().counter(IMPORTED) or not self.legacy.is_dir():
            return
        for file in self._legacy_files():
            if self.store().session(file.stem) is None:
                try:
                    conv = read_session(file)
                except InputError:
                    continue
                conv.name = file.stem
                self.keep(conv, updated=file.stat().st_mtime)
        self.store().bump(IMPORTED)
