"""Shared fixtures: an isolated home for every test, and the real small model.

The real models are pulled once per machine by thinkcli's own pull code into a
cache outside the test's temporary home (``THINKCLI_TEST_CACHE`` overrides it).
Machine facts (whether llama.cpp's AMX kernels work here) are found out once,
before the first test that loads the model, and shared by every test: each test
then runs as a user's second run does, whatever the CPU.
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
GEMMA = "gemma3-270m"  # a base model without a chat template, pulled from four chunk wheels

# A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
# in every program they start: the Ctrl-C tests' children would never see theirs.
# Handled here, it is back to the default in each child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _cache_dir() -> Path:
    named = os.environ.get("THINKCLI_TEST_CACHE")
    return Path(named) if named else Path.home() / ".cache" / "thinkcli-tests"


MACHINE_CACHE = _cache_dir() / "machine"  # THINKCLI_CACHE for every test


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own data dir and config path, and no THINKCLI_* leaks in."""
    for key in list(os.environ):
        if key.startswith("THINKCLI_") and key != "THINKCLI_TEST_CACHE":
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("THINKCLI_HOME", str(home))
    monkeypatch.setenv("THINKCLI_CACHE", str(MACHINE_CACHE))
    monkeypatch.setenv("THINKCLI_CONFIG", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return home


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The real smollm2-135m GGUF, pulled through thinkcli's store (once per machine)."""
    store = ModelStore(_cache_dir() / "models")
    try:
        path = store.resolve(MODEL)
    except Exception:
        path = store.pull(MODEL, console=Console(stderr=True))
    _probe_once(path)
    return path


def _probe_once(path: Path) -> None:
    """The AMX probe, where this CPU needs one, runs here once rather than in the first test."""
    from thinkcli.engine import hardware, llama

    llama.choose_repack(path, "auto", memory=hardware.memory_path({hardware.CACHE_ENV: str(MACHINE_CACHE)}))


@pytest.fixture(scope="session")
def gemma_path(model_path) -> Path:
    """The real Gemma 3 270M base GGUF, pulled through thinkcli's store (once per machine)."""
    store = ModelStore(_cache_dir() / "models")
    try:
        path = store.resolve(GEMMA)
    except Exception:
        path = store.pull(GEMMA, console=Console(stderr=True))
    _probe_once(path)
    return path


@pytest.fixture(scope="session")
def untemplated_paths(model_path, tmp_path_factory) -> dict[str, Path]:
    """Copies of the real small model without its chat template: ``chatml`` keeps its
    ChatML tokens special; ``plain`` has them typed as ordinary text (no turn markers)."""
    from gguf_edit import without_template

    directory = tmp_path_factory.mktemp("untemplated")
    paths = {
        "chatml": without_template(model_path, directory / "smollm2-135m-no-template.gguf"),
        "plain": without_template(model_path, directory / "smollm2-135m-no-turn-markers.gguf",
                                  plain=("<|im_start|>", "<|im_end|>")),
    }
    for path in paths.values():
        _probe_once(path)  # remembered by file name and size, so once per machine
    return paths


# The reasoning models' levels, as a config file can pin them for every model.
REASONING_LEVELS = "".join(
    f"[efforts.{name}]\nthink_budget = {budget}\nmin_think = {least}\nsamples = {paths}\nselection = \"{how}\"\n\n"
    for name, budget, least, paths, how in (
        ("none", 0, 0, 1, "single"), ("low", 256, 0, 1, "single"), ("medium", 1024, 0, 1, "single"),
        ("high", 4096, 0, 5, "vote"), ("max", 8192, 1024, 8, "vote+verify"), ("auto", 2048, 0, 8, "adaptive"),
    )
)


@pytest.fixture
def home_with_model(isolated_home, model_path, tmp_path) -> Path:
    """A fresh THINKCLI_HOME whose store holds the real small model (hard-linked, not copied).

    The small model does not think natively, so its own levels answer directly; the tests
    of the thinking machinery run it with the reasoning models' levels, pinned in the user's
    config file as a user can (``own_levels`` takes the file away again).
    """
    models = isolated_home / "models"
    models.mkdir(parents=True)
    target = models / f"{MODEL}.gguf"
    try:
        os.link(model_path, target)
    except OSError:
        shutil.copyfile(model_path, target)
    config = tmp_path / "xdg-config" / "thinkcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(REASONING_LEVELS)
    return isolated_home


@pytest.fixture
def own_levels(home_with_model, tmp_path) -> Path:
    """``home_with_model`` where the model gets its own levels (no config file pins them)."""
    (tmp_path / "xdg-config" / "thinkcli" / "config.toml").unlink()
    return home_with_model
