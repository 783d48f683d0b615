"""A model's effort levels: its tuned profile, else the built-in table for its kind.

Profiles live in ``<data dir>/profiles/<key>.json``. A local model's key is its file's
sha256 (computed once per path, size and modification time, and taken from the catalog
where the store pulled a catalog model); a server's model is keyed by the base URL and
the served name. Levels the config file defines (``[efforts.NAME]``) are the user's and
stay as written; every other level comes from the profile, or from the built-in table
for models with native thinking (budget-forced thinking) or without it (direct answers).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from thinkcli.config import DIRECT_EFFORTS, REASONING_EFFORTS, EffortPreset, Settings
from thinkcli.engine import ModelInfo
from thinkcli.reasoning import detect_format

VERSION = 1
HASHES = "hashes.json"
_PRESET_FIELDS = ("think_budget", "min_think", "samples", "selection", "temperature", "reasoning_format", "settle")


def tuned_origin(problems: int, day: str) -> str:
    """Where a profile's levels came from, as ``--debug``, ``--json`` and ``tune --show`` say it."""
    return f"tuned on {problems} problems on {day}"


@dataclass(frozen=True)
class Profile:
    """What ``thinkcli tune`` chose for one model, and on what.

    Args:
        key: the model's key (see ``file_key``, ``remote_key``).
        model: the model's name, for people.
        tuned: the day it was tuned (``2026-12-04``).
        problems: how many graded problems it was tuned on.
        source: the problem file.
        levels: the chosen level presets by name.
        summary: per level: the strategy, its accuracy and tokens (for ``tune --show``).
    """

    key: str
    model: str
    tuned: str
    problems: int
    source: str
    levels: Mapping[str, EffortPreset]
    summary: list[dict] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return tuned_origin(self.problems, self.tuned)

    def to_dict(self) -> dict:
        levels = {name: {k: getattr(p, k) for k in _PRESET_FIELDS} for name, p in self.levels.items()}
        return {"version": VERSION, "key": self.key, "model": self.model, "tuned": self.tuned,
                "problems": self.problems, "source": self.source, "levels": levels, "summary": self.summary}

    @classmethod
    def from_dict(cls, data: dict) -> Profile:
        """The profile ``to_dict`` wrote; raises ``ValueError`` for anything else."""
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError("not a profile of this version")
        origin = tuned_origin(int(data["problems"]), str(data["tuned"]))
        levels = {}
        for name, fields in dict(data["levels"]).items():
            values = {k: fields.get(k) for k in _PRESET_FIELDS}
            levels[name] = EffortPreset(name, int(values.pop("think_budget")), int(values.pop("min_think")),
                                        int(values.pop("samples")), str(values.pop("selection")), **values,
                                        origin=origin)
        return cls(str(data["key"]), str(data["model"]), str(data["tuned"]), int(data["problems"]),
                   str(data.get("source", "")), MappingProxyType(levels), list(data.get("summary") or []))


def remote_key(base_url: str, model: str) -> str:
    """A server's model: its base URL and served name (the server holds the file)."""
    return "server-" + hashlib.sha256(f"{base_url.rstrip('/')}\n{model}".encode()).hexdigest()


def native_thinking(info: ModelInfo) -> bool | None:
    """Whether the model's template has thinking of its own (tags, channels), as detection
    reads it: a plain instruct model, or a base model given a completion prompt, has none.
    None when the template is unknown (a server that does not publish it)."""
    if info.template_unknown or (info.chat_template is None and info.fallback is None):
        return None
    cue = info.fallback is not None and info.fallback.family.answer_cue
    return detect_format(info.chat_template, "auto", answer_cue=cue).native


def levels_for(settings: Settings, *, native: bool | None, profile: Profile | None) -> Settings:
    """``settings`` with the model's levels, except those the config file defines: the
    profile's, else the built-in table for its kind (``native`` None: the kind is unknown,
    and the reasoning table, the one for the models thinkcli is made for, applies)."""
    if profile is not None:
        base = dict(profile.levels)
    elif native is False:
        base = dict(DIRECT_EFFORTS)
    else:
        base = dict(REASONING_EFFORTS)
        if native is None:
            base = {name: replace(p, origin=f"{p.origin} (the model's template is unknown)") for name, p in base.items()}
    table = {**base, **{name: settings.efforts[name] for name in settings.custom_efforts if name in settings.efforts}}
    return replace(settings, efforts=MappingProxyType(table))


class Profiles:
    """The profile directory: read, write and forget a model's profile; know file keys.

    Args:
        root: ``<data dir>/profiles`` (made on the first write).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.warnings: list[str] = []  # a profile that could not be read, said once by the caller

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def any(self) -> bool:
        """Whether any profile exists (no file is hashed for a lookup until one does)."""
        try:
            return any(p.suffix == ".json" and p.name != HASHES for p in self.root.iterdir())
        except OSError:
            return False

    def load(self, key: str | None) -> Profile | None:
        """The profile for ``key``; None when there is none, or it is unreadable (a warning)."""
        if key is None:
            return None
        path = self.path(key)
        try:
            return Profile.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.warnings.append(f"{path}: not a readable profile ({exc}); using the built-in levels")
            return None

    def save(self, profile: Profile) -> Path:
        path = self.path(profile.key)
        _write_atomic(path, json.dumps(profile.to_dict(), indent=1, ensure_ascii=False) + "\n")
        return path

    def remove(self, key: str) -> bool:
        """Forget ``key``'s profile; whether there was one."""
        try:
            self.path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def file_key(self, path: Path, *, known: str | None = None, compute: bool = True) -> str | None:
        """The sha256 of a model file, from the cache (by path, size and modification time),
        ``known`` (a digest the store checked), or read once (``compute``) and cached."""
        try:
            stat = path.stat()
        except OSError:
            return None
        cache = self._hashes()
        stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        entry = cache.get(str(path.resolve()))
        if isinstance(entry, dict) and {k: entry.get(k) for k in stamp} == stamp and entry.get("sha256"):
            return str(entry["sha256"])
        digest = known or (_sha256(path) if compute else None)
        if digest is not None:
            cache[str(path.resolve())] = {**stamp, "sha256": digest}
            try:
                _write_atomic(self.root / HASHES, json.dumps(cache, indent=1) + "\n")
            except OSError:
                pass  # then it is read again next time; not worth an error
        return digest

    def _hashes(self) -> dict:
        try:
            data = json.loads((self.root / HASHES).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
