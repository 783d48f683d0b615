"""Tests for thinkcli.config: precedence, the example file, effort presets, and every error."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import platformdirs
import pytest

from thinkcli.config import (
    DEFAULT_EFFORTS,
    EffortPreset,
    Settings,
    config_path,
    data_dir,
    load_settings,
)
from thinkcli.errors import ConfigError, UsageError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict | None = None, flags: dict | None = None):
    return load_settings(path=write(tmp_path, text), env=env or {}, flags=flags)


def config_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path=path, env={})
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    return message


# --- defaults and the example file ------------------------------------------------


def test_defaults_match_the_documented_values():
    settings = Settings()
    assert settings.model == "smollm2-135m"
    assert (settings.gpu_layers, settings.threads, settings.ctx, settings.seed) == (None,) * 4
    assert (settings.temperature, settings.top_p, settings.top_k) == (0.6, 0.95, 20)
    assert settings.effort == "medium" and settings.thinking == "live"
    assert settings.continuations == ("Wait,",)
    assert list(settings.efforts) == ["none", "low", "medium", "high", "max", "auto"]
    assert settings.efforts["max"] == EffortPreset("max", 8192, 1024, 8, "vote+verify")
    assert settings.preset() == DEFAULT_EFFORTS["medium"]


def test_settings_are_frozen_and_presets_read_only():
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.temperature = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.efforts["mine"] = DEFAULT_EFFORTS["low"]  # type: ignore[index]
    assert hash(settings) == hash(Settings())


def test_example_file_loads_to_exactly_the_defaults():
    assert load_settings(path=EXAMPLE, env={}) == Settings()


def test_example_file_documents_every_key():
    text = EXAMPLE.read_text(encoding="utf-8")
    for field in dataclasses.fields(Settings):
        if field.name not in ("efforts", "custom_efforts"):
            assert re.search(rf"^{field.name} = .+#", text, re.MULTILINE), field.name
    for name in DEFAULT_EFFORTS:
        assert f"[efforts.{name}]" in text
    for word in ("# [efforts.exam]", "THINKCLI_HOME", "THINKCLI_CONFIG", "THINKCLI_<KEY>"):
        assert word in text


def test_example_reasoning_table_works_when_uncommented(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# [efforts.none]"):text.index("# The direct table")]
    settings = load(tmp_path, re.sub(r"^# ?", "", block, flags=re.MULTILINE))
    assert dict(settings.efforts) == dict(DEFAULT_EFFORTS)
    assert settings.custom_efforts == frozenset(DEFAULT_EFFORTS)
    assert {p.origin for p in settings.efforts.values()} == {"config file"}


def test_example_user_level_works_when_uncommented(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# [efforts.exam]"):]
    uncommented = re.sub(r"^# ", "", block, flags=re.MULTILINE)
    settings = load(tmp_path, text + "\n" + uncommented)
    assert settings.preset("exam") == EffortPreset("exam", 16384, 4096, 16, "vote+verify", 0.7)


# --- precedence: one test per boundary --------------------------------------------


def test_file_beats_default(tmp_path):
    settings = load(tmp_path, 'model = "qwen3-0.6b"\ntemperature = 0.2\n')
    assert settings.model == "qwen3-0.6b" and settings.temperature == 0.2
    assert settings.top_p == 0.95  # untouched keys keep their defaults


def test_env_beats_file(tmp_path):
    settings = load(tmp_path, "temperature = 0.2\n", env={"THINKCLI_TEMPERATURE": "0.9"})
    assert settings.temperature == 0.9


def test_flag_beats_env(tmp_path):
    settings = load(
        tmp_path, "", env={"THINKCLI_EFFORT": "high"}, flags={"effort": "max", "ctx": None}
    )
    assert settings.effort == "max"
    assert settings.ctx is None  # None means "not given"


def test_flag_none_leaves_env_value(tmp_path):
    settings = load(tmp_path, "", env={"THINKCLI_CTX": "4096"}, flags={"ctx": None})
    assert settings.ctx == 4096


def test_env_auto_overrides_file_value_back_to_none(tmp_path):
    settings = load(tmp_path, "seed = 42\nctx = 2048\n", env={"THINKCLI_SEED": "auto"})
    assert settings.seed is None and settings.ctx == 2048


# --- effort presets ------------------------------------------------------------------


def test_effort_table_overrides_one_field(tmp_path):
    settings = load(tmp_path, "[efforts.high]\nsamples = 7\n")
    assert settings.preset("high") == EffortPreset("high", 4096, 0, 7, "vote")
    assert settings.efforts["max"] == DEFAULT_EFFORTS["max"]


def test_effort_temperature_override(tmp_path):
    settings = load(tmp_path, "[efforts.low]\ntemperature = 1\n")
    assert settings.preset("low").temperature == 1.0
    assert isinstance(settings.preset("low").temperature, float)


def test_user_level_gets_defaults_and_is_listed(tmp_path):
    text = 'effort = "deep"\n[efforts.deep]\nthink_budget = 3000\nsamples = 3\n'
    settings = load(tmp_path, text + "[efforts.solo]\nthink_budget = 50\nsamples = 1\n")
    assert settings.preset() == EffortPreset("deep", 3000, 0, 3, "vote")
    assert settings.preset("solo").selection == "single"
    with pytest.raises(UsageError) as info:
        settings.preset("huge")
    assert str(info.value) == (
        "unknown effort 'huge'; choose one of: none, low, medium, high, max, auto, deep, solo"
    )


def test_unknown_effort_in_the_file_blames_the_file_unless_a_flag_overrides_it(tmp_path):
    message = config_error(tmp_path, 'effort = "hihg"\n')
    assert "key 'effort': unknown effort 'hihg' (did you mean 'high'?)" in message
    path = write(tmp_path, 'effort = "nope"\n')
    assert load_settings(path=path, env={}, flags={"effort": "low"}).preset().name == "low"


def test_unknown_effort_typos_get_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match=r"THINKCLI_EFFORT: unknown effort 'hgh' \(did you mean 'high'\?\)"):
        load_settings(env={"THINKCLI_EFFORT": "hgh", "THINKCLI_CONFIG": ""}, path=write(tmp_path, ""))
    settings = load_settings(env={}, flags={"effort": "mediun"}, path=write(tmp_path, ""))
    with pytest.raises(UsageError, match=r"unknown effort 'mediun' \(did you mean 'medium'\?\); choose one of"):
        settings.preset()


def test_new_level_must_set_budget_and_samples(tmp_path):
    message = config_error(tmp_path, "[efforts.exam]\nthink_budget = 100\n")
    assert "'efforts.exam'" in message and "samples" in message


def test_min_think_cannot_exceed_budget(tmp_path):
    message = config_error(tmp_path, "[efforts.low]\nmin_think = 512\n")
    assert "'efforts.low.min_think' must be <= think_budget (256), got 512" in message


# --- file errors ---------------------------------------------------------------------


def test_malformed_toml_names_the_line(tmp_path):
    message = config_error(tmp_path, 'model = "a"\n\ntemperature = \n')
    assert "invalid TOML" in message and "line 3" in message


def test_unknown_key_suggests_closest(tmp_path):
    message = config_error(tmp_path, "temprature = 0.5\n")
    assert message.endswith("unknown key 'temprature' (did you mean 'temperature'?)")


def test_unknown_preset_key_suggests_closest(tmp_path):
    message = config_error(tmp_path, "[efforts.high]\nsample = 3\n")
    assert "unknown key 'efforts.high.sample' (did you mean 'samples'?)" in message


def test_unknown_key_without_close_match(tmp_path):
    assert config_error(tmp_path, "zzz = 1\n").endswith("unknown key 'zzz'")


def test_wrong_type_message(tmp_path):
    path = write(tmp_path, 'ctx = "big"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path=path, env={})
    assert str(info.value) == f"{path}: key 'ctx' expected an integer or \"auto\", got string"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_tokens = true\n", "key 'max_tokens' expected an integer, got boolean"),
        ("top_k = 2.5\n", "key 'top_k' expected an integer, got float"),
        ('temperature = "hot"\n', "key 'temperature' expected a number, got string"),
        ("temperature = nan\n", "key 'temperature' expected a finite number, got nan"),
        ("system = 3\n", "key 'system' expected a string, got integer"),
        ('continuations = "Wait,"\n', "key 'continuations' expected an array of strings"),
        ("continuations = [1]\n", "key 'continuations' expected an array of strings"),
        ("continuations = []\n", "key 'continuations' must hold at least one string"),
        ("[efforts.high]\nsamples = true\n", "'efforts.high.samples' expected an integer"),
        ("efforts = 3\n", "key 'efforts' expected a table, got integer"),
        ("efforts.high = 3\n", "key 'efforts.high' expected a table, got integer"),
        ('model = ""\n', "key 'model' must not be empty"),
    ],
)
def test_wrong_types(tmp_path, text, expected):
    assert expected in config_error(tmp_path, text)


def test_int_is_accepted_for_float(tmp_path):
    settings = load(tmp_path, "temperature = 1\ntop_p = 1\n")
    assert settings.temperature == 1.0 and isinstance(settings.temperature, float)
    assert settings.top_p == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('thinking = "loud"\n', "key 'thinking' must be one of: live, show, hide; got 'loud'"),
        (
            'reasoning_format = "xml"\n',
            "must be one of: auto, think, harmony, magistral, seed, gemma4, apriel, solar, prompted, stepwise; got 'xml'",
        ),
        (
            '[efforts.high]\nselection = "best"\n',
            "key 'efforts.high.selection' must be one of: single, vote, vote+verify, adaptive",
        ),
    ],
)
def test_invalid_choices(tmp_path, text, expected):
    assert expected in config_error(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[efforts.low]\nthink_budget = -1\n", "'efforts.low.think_budget' must be >= 0, got -1"),
        ("[efforts.low]\nmin_think = -5\n", "'efforts.low.min_think' must be >= 0, got -5"),
        ("[efforts.low]\nsamples = 0\n", "'efforts.low.samples' must be >= 1 and <= 64, got 0"),
        ("[efforts.low]\nsamples = 65\n", "must be >= 1 and <= 64, got 65"),
        ("[efforts.low]\ntemperature = -1\n", "'efforts.low.temperature' must be >= 0"),
        ("temperature = -0.1\n", "key 'temperature' must be >= 0, got -0.1"),
        ("top_p = 0\n", "key 'top_p' must be > 0 and <= 1, got 0.0"),
        ("top_p = 1.5\n", "key 'top_p' must be > 0 and <= 1, got 1.5"),
        ("max_tokens = 0\n", "key 'max_tokens' must be >= 1"),
        ("gpu_layers = -2\n", "key 'gpu_layers' must be >= -1"),
        ("seed = -1\n", "key 'seed' must be >= 0 and <= 4294967294"),
    ],
)
def test_out_of_range(tmp_path, text, expected):
    assert expected in config_error(tmp_path, text)


def test_old_effort_table_spelling_gets_a_hint(tmp_path):
    message = config_error(tmp_path, "[effort.high]\nsamples = 7\n")
    assert "preset tables are [efforts.NAME]" in message


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'model = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path=path, env={})


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('\ufeffmodel = "café"\n'.encode())
    assert load_settings(path=path, env={}).model == "café"


def test_unreadable_file(tmp_path):
    path = tmp_path / "config.toml"
    path.mkdir()  # reading a directory fails even as root, unlike chmod 000
    with pytest.raises(ConfigError, match=f"cannot read config file {re.escape(str(path))}"):
        load_settings(path=path, env={})


# --- locating the file -----------------------------------------------------------------


def test_missing_file_named_by_env_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(env={"THINKCLI_CONFIG": str(missing)})
    assert f"config file {missing} does not exist" in str(info.value)
    assert "THINKCLI_CONFIG" in str(info.value)


def test_missing_file_passed_explicitly_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(path=tmp_path / "nope.toml", env={})


def test_missing_file_at_default_location_is_fine(tmp_path, monkeypatch):
    # platformdirs reads XDG_CONFIG_HOME itself, so point it at an empty folder.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not config_path({}).exists()
    assert load_settings(env={}) == Settings()


def test_env_names_the_config_file(tmp_path):
    path = write(tmp_path, 'thinking = "hide"\n')
    assert load_settings(env={"THINKCLI_CONFIG": str(path)}).thinking == "hide"


def test_config_path_and_data_dir(tmp_path):
    assert config_path({"THINKCLI_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    assert data_dir({"THINKCLI_HOME": str(tmp_path)}) == tmp_path
    assert config_path({"THINKCLI_CONFIG": "~/c.toml"}) == Path.home() / "c.toml"
    default_config = platformdirs.user_config_path("thinkcli", appauthor=False) / "config.toml"
    assert config_path({}) == default_config
    assert config_path({"THINKCLI_CONFIG": ""}) == default_config
    assert data_dir({}) == platformdirs.user_data_path("thinkcli", appauthor=False)


# --- environment parsing ---------------------------------------------------------------


ENV_CASES = [
    ("THINKCLI_MODEL", "qwen3-0.6b", "model", "qwen3-0.6b"),
    ("THINKCLI_GPU_LAYERS", "-1", "gpu_layers", -1),
    ("THINKCLI_THREADS", " 4 ", "threads", 4),
    ("THINKCLI_REPACK", "off", "repack", "off"),
    ("THINKCLI_BACKEND", "openai", "backend", "openai"),
    ("THINKCLI_BASE_URL", "http://localhost:8080/v1", "base_url", "http://localhost:8080/v1"),
    ("THINKCLI_API_KEY_ENV", "MY_KEY", "api_key_env", "MY_KEY"),
    ("THINKCLI_PARALLEL", "8", "parallel", 8),
    ("THINKCLI_CTX", "4096", "ctx", 4096),
    ("THINKCLI_SEED", "1234", "seed", 1234),
    ("THINKCLI_SEED", "AUTO", "seed", None),
    ("THINKCLI_TEMPERATURE", "0", "temperature", 0.0),
    ("THINKCLI_TOP_P", "0.5", "top_p", 0.5),
    ("THINKCLI_TOP_K", "0", "top_k", 0),
    ("THINKCLI_MAX_TOKENS", "99", "max_tokens", 99),
    ("THINKCLI_SYSTEM", " Be brief. ", "system", " Be brief. "),
    ("THINKCLI_CHAT_TEMPLATE_FILE", "~/t.jinja", "chat_template_file", "~/t.jinja"),
    ("THINKCLI_REASONING_FORMAT", "harmony", "reasoning_format", "harmony"),
    ("THINKCLI_EFFORT", " high ", "effort", "high"),
    ("THINKCLI_THINKING", "show", "thinking", "show"),
    ("THINKCLI_VOTE_KEEP", "0.5", "vote_keep", 0.5),
    ("THINKCLI_VOTE_CONFIDENCE", "tail", "vote_confidence", "tail"),
    ("THINKCLI_WRAP_UP", "Stop.", "wrap_up", "Stop."),
    ("THINKCLI_CONTINUATIONS", "Wait, Hmm , ,", "continuations", ("Wait", "Hmm")),
    ("THINKCLI_CONTINUATIONS", '["Wait,", "But"]', "continuations", ("Wait,", "But")),
    ("THINKCLI_HISTORY", "false", "history", False),
    ("THINKCLI_HISTORY", " Yes ", "history", True),
    ("THINKCLI_LOG", "false", "log", False),
]


def test_history_takes_a_boolean(tmp_path):
    assert load(tmp_path, "history = false\n").history is False
    with pytest.raises(ConfigError, match="history.*true or false"):
        load(tmp_path, 'history = "no"\n')
    with pytest.raises(ConfigError, match="THINKCLI_HISTORY: expected true or false"):
        load(tmp_path, "", env={"THINKCLI_HISTORY": "maybe"})


@pytest.mark.parametrize(("var", "raw", "field", "value"), ENV_CASES)
def test_env_sets_every_scalar_key(tmp_path, var, raw, field, value):
    assert getattr(load(tmp_path, "", env={var: raw}), field) == value


def test_env_cases_cover_every_settings_field():
    names = {f.name for f in dataclasses.fields(Settings)} - {"efforts", "custom_efforts"}
    assert {case[2] for case in ENV_CASES} == names
    assert {case[0] for case in ENV_CASES} == {f"THINKCLI_{name.upper()}" for name in names}


def test_empty_env_variable_counts_as_unset(tmp_path):
    settings = load(tmp_path, "ctx = 1024\n", env={"THINKCLI_CTX": "", "THINKCLI_MODEL": " "})
    assert settings.ctx == 1024 and settings.model == "smollm2-135m"


@pytest.mark.parametrize(
    ("var", "raw", "message"),
    [
        ("THINKCLI_CTX", "abc", "THINKCLI_CTX: expected an integer or \"auto\", got 'abc'"),
        ("THINKCLI_TOP_K", "1.5", "THINKCLI_TOP_K: expected an integer, got '1.5'"),
        ("THINKCLI_TEMPERATURE", "warm", "THINKCLI_TEMPERATURE: expected a number, got 'warm'"),
        ("THINKCLI_TEMPERATURE", "-1", "THINKCLI_TEMPERATURE: must be >= 0, got -1.0"),
        ("THINKCLI_THINKING", "loud", "THINKCLI_THINKING: must be one of: live, show, hide"),
        ("THINKCLI_CONTINUATIONS", '["Wait,"', "THINKCLI_CONTINUATIONS: expected a TOML array"),
        ("THINKCLI_CONTINUATIONS", "[1, 2]", "THINKCLI_CONTINUATIONS: expected an array"),
    ],
)
def test_bad_env_values(tmp_path, var, raw, message):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "", env={var: raw})
    assert str(info.value).startswith(message)


def test_env_paths_and_unknown_variables_are_not_settings(tmp_path):
    env = {"THINKCLI_HOME": "/nowhere", "THINKCLI_DEBUG": "1", "THINKCLI_EFFORTS": "x"}
    assert load(tmp_path, "", env=env) == Settings()


# --- flags -------------------------------------------------------------------------------


def test_bad_flag_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as info:
        load(tmp_path, "", flags={"top_p": 2.0})
    assert str(info.value) == "--top-p: must be > 0 and <= 1, got 2.0"
    with pytest.raises(UsageError, match="--thinking: must be one of"):
        load(tmp_path, "", flags={"thinking": "loud"})


def test_unknown_flag_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="not a setting: 'colour'"):
        load(tmp_path, "", flags={"colour": "red"})


def test_updated_validates_and_copies():
    settings = Settings()
    changed = settings.updated({"seed": 7, "continuations": ["Hmm,"], "ctx": "auto"})
    assert (changed.seed, changed.continuations, changed.ctx) == (7, ("Hmm,",), None)
    assert settings.seed is None
    with pytest.raises(UsageError, match="--max-tokens: expected an integer, got boolean"):
        settings.updated({"max_tokens": True})
