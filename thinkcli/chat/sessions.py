"""Chat sessions that are never lost: the conversation, its JSON form, and its files.

A ``Conversation`` is the system prompt and the exchanges so far; ``SessionStore``
saves it after every turn (temporary file, fsync, rename; mode 0600) under the
data directory, finds the last one for ``--continue``, and loads files strictly.
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
from thinkcli.events import Result
from thinkcli.reasoning import history_messages

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

    @classmethod
    def from_result(cls, question: str, result: Result) -> Exchange:
        samples = [{k: v for k, v in asdict(s).items() if k not in _SUMMARY_DROP} for s in result.samples]
        return cls(
            question=question, answer=result.answer, reasoning=result.reasoning, effort=result.effort,
            model=result.model, interrupted=result.interrupted, chosen=result.chosen, samples=samples,
            stats=asdict(result.stats), paths=[s.reasoning for s in result.samples],
        )


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
        return {
            "format": FORMAT, "version": VERSION, "name": self.name, "created": self.created,
            "system": self.system, "turns": [asdict(ex) for ex in self.exchanges],
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
    """Session files under ``root`` (``<data dir>/sessions``), one ``NAME.json`` each."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        if not re.fullmatch(r"[\w.-]+", name) or name.startswith("."):
            raise InputError(f"session name {name!r}: use letters, digits, '.', '-' and '_'")
        return self.root / f"{name}.json"

    def new_name(self) -> str:
        base = time.strftime("%Y%m%d-%H%M%S")
        name, n = base, 1
        while self.path(name).exists():
            n += 1
            name = f"{base}-{n}"
        return name

    def save(self, conv: Conversation) -> Path:
        path = self.path(conv.name)
        write_atomic(path, json.dumps(conv.to_dict(), ensure_ascii=False, indent=1) + "\n")
        return path

    def last(self) -> Conversation | None:
        """The most recently saved session, or None when there is none."""
        files = sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime) if self.root.is_dir() else []
        return read_session(files[-1]) if files else None

    def open(self, name: str) -> Conversation:
        """The named session, or a new one by that name."""
        path = self.path(name)
        return read_session(path) if path.exists() else Conversation(name=name)
