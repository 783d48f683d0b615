"""Settings, merged from flags > THINKCLI_* environment > config.toml > built-in defaults.

``load_settings`` validates every value where it enters and raises a one-line ``ConfigError``
(file, environment) or ``UsageError`` (flags) that names the file, variable or option at fault.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import platformdirs

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

from thinkcli.checks import Check, Invalid, type_name
from thinkcli.errors import ConfigError, UsageError

APP_NAME = "thinkcli"
ENV_PREFIX = "THINKCLI_"
CONFIG_ENV = "THINKCLI_CONFIG"
HOME_ENV = "THINKCLI_HOME"
SELECTIONS = ("single", "vote", "vote+verify", "adaptive")
VOTE_CONFIDENCES = ("lowest", "bottom10", "tail")
REASONING_FORMATS = ("auto", "think", "harmony", "magistral", "seed", "gemma4", "apriel", "solar", "prompted", "stepwise")
THINKING_MODES = ("live", "show", "hide")
REPACK_MODES = ("auto", "on", "off")
BACKENDS = ("llama", "openai")
MAX_SAMPLES = 64


@dataclass(frozen=True, slots=True)
class EffortPreset:
    """How hard to think at one effort level.

    Args:
        name: The level's name, as given to ``--effort``.
        think_budget: Thinking-token budget; 0 means no thinking.
        min_think: Thinking tokens required before the model may stop thinking.
        samples: Reasoning paths explored in parallel (for "adaptive": the maximum).
        selection: How the answer is chosen: "single", "vote", "vote+verify" or "adaptive".
        temperature: Overrides the top-level temperature for this level when set.
        reasoning_format: Overrides the model's reasoning format for this level when set
            (a tuned level may think in two stages, ``stepwise``).
        settle: For "adaptive": how sure the leading answer must be before no more paths
            are added (``None``: the strategy's own threshold).
        origin: Where the level came from, for ``--debug`` and ``--json`` ("built-in for
            reasoning models", "tuned on 40 problems on 2026-12-04", "config file").
    """

    name: str
    think_budget: int
    min_think: int
    samples: int
    selection: str
    temperature: float | None = None
    reasoning_format: str | None = None
    settle: float | None = None
    origin: str = field(default="built-in", compare=False)


REASONING_ORIGIN = "built-in for reasoning models"
DIRECT_ORIGIN = "built-in for models without native thinking"

# Budget-forced thinking: for models whose template has thinking tags of their own.
DEFAULT_EFFORTS: Mapping[str, EffortPreset] = MappingProxyType(
    {
        "none": EffortPreset("none", 0, 0, 1, "single", origin=REASONING_ORIGIN),
        "low": EffortPreset("low", 256, 0, 1, "single", origin=REASONING_ORIGIN),
        "medium": EffortPreset("medium", 1024, 0, 1, "single", origin=REASONING_ORIGIN),
        "high": EffortPreset("high", 4096, 0, 5, "vote", origin=REASONING_ORIGIN),
        "max": EffortPreset("max", 8192, 1024, 8, "vote+verify", origin=REASONING_ORIGIN),
        "auto": EffortPreset("auto", 2048, 0, 8, "adaptive", origin=REASONING_ORIGIN),
    }
)
REASONING_EFFORTS = DEFAULT_EFFORTS

# Direct answers, greedy at none and voted above it: for models that do not think natively,
# where thinking in prompted tags costs accuracy (measured in docs/benchmarks.md, "Effort
# levels by model kind": tuned on benchmarks' tuning set, checked on the held-out set).
DIRECT_EFFORTS: Mapping[str, EffortPreset] = MappingProxyType(
    {
        "none": EffortPreset("none", 0, 0, 1, "single", temperature=0.0, origin=DIRECT_ORIGIN),
        "low": EffortPreset("low", 0, 0, 3, "vote", origin=DIRECT_ORIGIN),
        "medium": EffortPreset("medium", 0, 0, 5, "vote", origin=DIRECT_ORIGIN),
        "high": EffortPreset("high", 0, 0, 9, "vote", origin=DIRECT_ORIGIN),
        "max": EffortPreset("max", 0, 0, 16, "vote", origin=DIRECT_ORIGIN),
        "auto": EffortPreset("auto", 0, 0, 16, "adaptive", settle=0.6, origin=DIRECT_ORIGIN),
    }
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs to know; see config.example.toml for each key's meaning.

    ``None`` for gpu_layers, threads, ctx and seed means "auto" (written so in the file).
    """

    model: str = "smollm2-135m"
    gpu_layers: int | None = None
    threads: int | None = None
    repack: str = "auto"
    ctx: int | None = None
    backend: str = "llama"
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    parallel: int = 4
    seed: int | None = None
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 20
    max_tokens: int = 2048
    system: str = ""
    chat_template_file: str = ""
    reasoning_format: str = "auto"
    effort: str = "medium"
    thinking: str = "live"
    vote_keep: float = 0.9
    vote_confidence: str = "lowest"
    wrap_up: str = "\n\nTime is up. I have to give my final answer now.\n"
    continuations: tuple[str, ...] = ("Wait,",)
    history: bool = True
    log: bool = True
    # A mappingproxy cannot be hashed, so it stays out of the hash (it still counts for ==).
    efforts: Mapping[str, EffortPreset] = field(default_factory=lambda: DEFAULT_EFFORTS, hash=False)
    # The levels the config file defines ([efforts.NAME]): a model's profile leaves them alone.
    custom_efforts: frozenset[str] = frozenset()

    def preset(self, name: str | None = None) -> EffortPreset:
        """Look up an effort level.

        Args:
            name: The level; ``None`` means this settings' ``effort``.

        Returns:
            The preset, built-in or user-defined.

        Raises:
            UsageError: No such level.
        """
        level = self.effort if name is None else name
        try:
            return self.efforts[level]
        except KeyError:
            raise UsageError(unknown_effort(level, self.efforts)) from None

    def updated(self, changes: Mapping[str, object]) -> Settings:
        """Return a copy with command-line style changes applied and validated.

        Args:
            changes: Setting name -> value; ``None`` means "not given" and is skipped.

        Returns:
            The new settings.

        Raises:
            UsageError: A value is out of range or of the wrong type (named as ``--option``).
            ValueError: A key is not a setting (a programming error, not the user's).
        """
        values: dict[str, object] = {}
        for key, value in changes.items():
            if value is None:
                continue
            check = _SETTING_CHECKS.get(key)
            if check is None:
                raise ValueError(f"not a setting: {key!r}")
            try:
                values[key] = check(value)
            except Invalid as exc:
                raise UsageError(f"--{key.replace('_', '-')}: {exc}") from None
        return replace(self, **values)


_SETTING_CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        "model": Check("str", nonempty=True),
        "gpu_layers": Check("int", low=-1, auto=True),
        "threads": Check("int", low=1, auto=True),
        "repack": Check("str", choices=REPACK_MODES),
        "ctx": Check("int", low=1, auto=True),
        "backend": Check("str", choices=BACKENDS),
        "base_url": Check("str"),
        "api_key_env": Check("str", nonempty=True),
        "parallel": Check("int", low=1, high=64),
        # llama.cpp's seed is a uint32 and 0xFFFFFFFF already means "random".
        "seed": Check("int", low=0, high=2**32 - 2, auto=True),
        "temperature": Check("float", low=0),
        "top_p": Check("float", low=0, high=1, open_low=True),
        "top_k": Check("int", low=0),
        "max_tokens": Check("int", low=1),
        "system": Check("str"),
        "chat_template_file": Check("str"),
        "reasoning_format": Check("str", choices=REASONING_FORMATS),
        "effort": Check("str", nonempty=True),
        "thinking": Check("str", choices=THINKING_MODES),
        "vote_keep": Check("float", low=0, high=1, open_low=True),
        "vote_confidence": Check("str", choices=VOTE_CONFIDENCES),
        "wrap_up": Check("str"),
        "continuations": Check("strs"),
        "history": Check("bool"),
        "log": Check("bool"),
    }
)

_PRESET_CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        "think_budget": Check("int", low=0),
        "min_think": Check("int", low=0),
        "samples": Check("int", low=1, high=MAX_SAMPLES),
        "selection": Check("str", choices=SELECTIONS),
        "temperature": Check("float", low=0),
        "reasoning_format": Check("str", choices=REASONING_FORMATS),
        "settle": Check("float", low=0.5, high=1, open_low=True),
    }
)


def config_path(env: Mapping[str, str]) -> Path:
    """The config file: ``$THINKCLI_CONFIG`` if set, else the platform's user config dir."""
    named = env.get(CONFIG_ENV)
    if named:
        return Path(named).expanduser()
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def data_dir(env: Mapping[str, str]) -> Path:
    """Where models, history and the run log live: ``$THINKCLI_HOME`` if set, else the user data dir."""
    named = env.get(HOME_ENV)
    if named:
        return Path(named).expanduser()
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def load_settings(
    *,
    env: Mapping[str, str],
    flags: Mapping[str, object] | None = None,
    path: Path | None = None,
) -> Settings:
    """Merge defaults, the config file, the environment and flags, highest last.

    Args:
        env: The process environment (injected so tests need no monkeypatching).
        flags: Setting name -> value from the command line; ``None`` values are skipped.
        path: The config file. ``None`` means ``config_path(env)``; a missing file is then
            fine unless ``THINKCLI_CONFIG`` named it. A path given here must exist.

    Returns:
        The validated settings. The chosen ``effort`` is checked later, by ``Settings.preset``.

    Raises:
        ConfigError: The file or an environment variable is unreadable or invalid.
        UsageError: A flag's value is invalid.
    """
    if path is not None:
        table = _read_toml(path, missing=f"config file {path} does not exist")
    else:
        path = config_path(env)
        named = bool(env.get(CONFIG_ENV))
        missing = f"config file {path} does not exist (named by {CONFIG_ENV})" if named else None
        table = _read_toml(path, missing=missing)
    values, efforts = _from_file(table, path)
    from_file = values.get("effort")
    values.update(_from_env(env))
    custom = frozenset(table.get("efforts", {}))
    settings = Settings(**values, efforts=efforts, custom_efforts=custom)
    if (flags or {}).get("effort") is None and settings.effort not in efforts:
        where = f"{ENV_PREFIX}EFFORT" if settings.effort != from_file else f"{path}: key 'effort'"
        raise ConfigError(f"{where}: {unknown_effort(settings.effort, efforts)}")
    return settings.updated(flags or {})


def unknown_effort(level: str, efforts: Mapping[str, EffortPreset]) -> str:
    """``unknown effort 'hihg' (did you mean 'high'?); choose one of: ...``."""
    close = difflib.get_close_matches(level.lower(), list(efforts), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown effort {level!r}{hint}; choose one of: {', '.join(efforts)}"


def _read_toml(path: Path, *, missing: str | None) -> dict:
    """Parse the file; ``missing`` is the error for an absent file, ``None`` if that is fine."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if missing is not None:
            raise ConfigError(missing) from None
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")  # editors on Windows like to add a BOM
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _unknown(path: Path, key: str, valid: object, prefix: str = "") -> ConfigError:
    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{path}: unknown key {prefix + key!r}{hint}")


def _checked(check: Check, value: object, path: Path, key: str) -> object:
    try:
        return check(value)
    except Invalid as exc:
        raise ConfigError(f"{path}: key {key!r} {exc}") from None


def _from_file(table: dict, path: Path) -> tuple[dict[str, object], Mapping[str, EffortPreset]]:
    values: dict[str, object] = {}
    for key, value in table.items():
        if key == "efforts":
            continue
        if key == "effort" and isinstance(value, dict):
            raise ConfigError(
                f"{path}: key 'effort' must name a level; preset tables are [efforts.NAME]"
            )
        check = _SETTING_CHECKS.get(key)
        if check is None:
            raise _unknown(path, key, [*_SETTING_CHECKS, "efforts"])
        values[key] = _checked(check, value, path, key)
    return values, _merge_efforts(table.get("efforts", {}), path)


def _merge_efforts(table: object, path: Path) -> Mapping[str, EffortPreset]:
    """Built-in presets overridden field by field by ``[efforts.NAME]``, plus new levels."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: key 'efforts' expected a table, got {type_name(table)}")
    merged = dict(DEFAULT_EFFORTS)
    for name, entries in table.items():
        where = f"efforts.{name}"
        if not name or any(char.isspace() for char in name):
            raise ConfigError(f"{path}: key {where!r}: a level name needs no spaces")
        if not isinstance(entries, dict):
            raise ConfigError(f"{path}: key {where!r} expected a table, got {type_name(entries)}")
        given: dict[str, object] = {}
        for key, value in entries.items():
            check = _PRESET_CHECKS.get(key)
            if check is None:
                raise _unknown(path, key, _PRESET_CHECKS, prefix=f"{where}.")
            given[key] = _checked(check, value, path, f"{where}.{key}")
        base = merged.get(name) or _new_level(name, given, path)
        preset = replace(base, **given, origin="config file")
        if preset.min_think > preset.think_budget:
            raise ConfigError(
                f"{path}: key '{where}.min_think' must be <= think_budget "
                f"({preset.think_budget}), got {preset.min_think}"
            )
        merged[name] = preset
    return MappingProxyType(merged)


def _new_level(name: str, given: Mapping[str, object], path: Path) -> EffortPreset:
    missing = [key for key in ("think_budget", "samples") if key not in given]
    if missing:
        raise ConfigError(
            f"{path}: key 'efforts.{name}' is a new effort level and must set "
            + " and ".join(missing)
        )
    samples = given["samples"]
    selection = "single" if samples == 1 else "vote"
    return EffortPreset(name, given["think_budget"], 0, samples, selection, origin="config file")


def _from_env(env: Mapping[str, str]) -> dict[str, object]:
    """``THINKCLI_<KEY>`` for every scalar setting; an empty variable counts as unset."""
    values: dict[str, object] = {}
    for key, check in _SETTING_CHECKS.items():
        var = ENV_PREFIX + key.upper()
        raw = env.get(var)
        if raw is None or not raw.strip():
            continue
        try:
            values[key] = check.parse_env(raw)
        except Invalid as exc:
            raise ConfigError(f"{var}: {exc}") from None
    return values
