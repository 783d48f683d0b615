"""Which effort levels a model gets, decided once before it loads and once it has.

Before loading, a model file already in the store is read for its template (no weights
load), so the context is sized for the levels it will really use; after loading, the
engine's own description decides for certain (a model pulled on first use, a server's).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping

from thinkcli.config import Settings, data_dir
from thinkcli.engine import ModelInfo
from thinkcli.errors import ThinkError
from thinkcli.reasoning import detect_format
from thinkcli.tune.profile import Profile, Profiles, levels_for, native_thinking, remote_key


class ModelLevels:
    """Gives each model its levels: its profile, else the built-in table for its kind.

    Args:
        env: the process environment (where the data directory is).
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.profiles = Profiles(data_dir(env) / "profiles")

    def before_load(self, settings: Settings) -> Settings:
        """The levels of the configured model where its file is here already; else unchanged."""
        if settings.backend == "openai":
            profile = self.profiles.load(remote_key(settings.base_url, settings.model))
            return levels_for(settings, native=True, profile=profile) if profile else settings
        path = self.local_path(settings)
        if path is None:
            return settings
        from thinkcli.models.gguf import read_gguf
        from thinkcli.load import template_file

        try:
            template = template_file(settings).get("chat_template") or read_gguf(path).chat_template
        except (ThinkError, OSError):
            return settings  # loading will say what is wrong
        native = template is not None and detect_format(template).native
        return levels_for(settings, native=native, profile=self.profile_of_file(path))

    def after_load(self, settings: Settings, info: ModelInfo) -> Settings:
        """The levels of the loaded model, from what the engine says it is."""
        return levels_for(settings, native=native_thinking(info), profile=self.profile(settings, info))

    def key(self, settings: Settings, info: ModelInfo) -> str:
        """The loaded model's profile key: its file's sha256, or the server and name (or, for
        an engine whose file cannot be read, its path)."""
        if info.backend == "openai":
            return remote_key(settings.base_url, info.name)
        return self.file_key(Path(info.path)) or "path-" + hashlib.sha256(info.path.encode()).hexdigest()

    def profile(self, settings: Settings, info: ModelInfo) -> Profile | None:
        if not self.profiles.any():
            return None
        return self.profiles.load(self.key(settings, info))

    def profile_of_file(self, path: Path) -> Profile | None:
        return self.profiles.load(self.file_key(path)) if self.profiles.any() else None

    def file_key(self, path: Path, *, compute: bool = True) -> str | None:
        """A model file's sha256: the catalog's, where the store pulled a catalog model to it."""
        return self.profiles.file_key(path, known=self._catalog_digest(path), compute=compute)

    def local_path(self, settings: Settings) -> Path | None:
        """The configured model's file, if it is here (nothing is pulled)."""
        from thinkcli.load import model_store

        try:
            path = model_store(self.env).resolve(settings.model)
        except ThinkError:
            return None
        return path if path.is_file() else None

    def _catalog_digest(self, path: Path) -> str | None:
        from thinkcli.load import model_store
        from thinkcli.models.catalog import CATALOG

        store = model_store(self.env)
        for entry in CATALOG.values():
            if entry.sha256 and store.path_for(entry) == path:
                try:
                    size = path.stat().st_size
                except OSError:
                    return None
                return entry.sha256 if entry.size_bytes in (None, size) else None
        return None
