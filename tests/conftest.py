"""Shared fixtures: an isolated home for every test, and the real small model.

The real model is pulled once per machine by thinkcli's own pull code into a
cache outside the test's temporary home (``THINKCLI_TEST_CACHE`` overrides it).
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
from rich.console import Console

from thinkcli.models.store import ModelStore

MODEL = "smollm2-135m"

# A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
# in every program they start: the Ctrl-C tests' children would never see theirs.
# Handled here, it is back to the default in each child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _cache_dir() -> Path:
    named = os.environ.get("THINKCLI_TEST_CACHE")
    return Path(named) if named else Path.home() / ".cache" / "thinkcli-tests"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own data dir and config path, and no THINKCLI_* leaks in."""
    for key in list(os.environ):
        if key.startswith("THINKCLI_") and key != "THINKCLI_TEST_CACHE":
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("THINKCLI_HOME", str(home))
    monkeypatch.setenv("THINKCLI_CONFIG", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return home


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The real smollm2-135m GGUF, pulled through thinkcli's store (once per machine)."""
    store = ModelStore(_cache_dir() / "models")
    try:
        return store.resolve(MODEL)
    except Exception:
        return store.pull(MODEL, console=Console(stderr=True))


@pytest.fixture
def home_with_model(isolated_home, model_path) -> Path:
    """A fresh THINKCLI_HOME whose store holds the real small model (hard-linked, not copied)."""
    models = isolated_home / "models"
    models.mkdir(parents=True)
    target = models / f"{MODEL}.gguf"
    try:
        os.link(model_path, target)
    except OSError:
        shutil.copyfile(model_path, target)
    return isolated_home
