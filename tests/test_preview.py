"""`thinkcli ask --print-prompt` and `--chat-template-file`: the prompt from the metadata alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from thinkcli.config import Settings
from thinkcli.engine import ModelInfo
from thinkcli.engine.template import read_template_file
from thinkcli.errors import InputError
from thinkcli.load import with_template_file
from thinkcli.preview import MetadataEngine, preview
from thinkcli.reasoning import PROMPTED_INSTRUCTION

QUESTION = "What is 2+2?"
# A template that reads each switch thinkcli sets, so the prompt shows what was passed.
SWITCHES = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{{ eos_token }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>effort={{ reasoning_effort }}"
    "{% if enable_thinking %}<think>\n{% else %}<think></think>{% endif %}{% endif %}"
)


def info(template: str | None) -> ModelInfo:
    return ModelInfo("m", "/m.gguf", 0, 0, template, bos_token="<s>", eos_token="</s>")


def test_preview_honours_effort_thinking_and_system():
    settings = Settings(system="Be brief.")
    engine = MetadataEngine(info(SWITCHES))
    on = preview(engine, settings, settings.preset("high"), QUESTION)
    assert on == {
        "prompt": "<s><|system|>Be brief.</s><|user|>What is 2+2?</s><|assistant|>effort=high<think>\n",
        "format": "think",
        "starts_in_thinking": True,
        "template": "model",
    }
    off = preview(engine, settings, settings.preset("none"), QUESTION)
    assert off["prompt"].endswith("effort=low<think></think>") and off["starts_in_thinking"] is False


def test_preview_of_a_plain_model_is_the_prompted_format():
    settings = Settings()
    shown = preview(MetadataEngine(info(None)), settings, settings.preset("low"), QUESTION)
    assert shown["format"] == "prompted" and shown["starts_in_thinking"] is True and shown["template"] == "chatml"
    assert PROMPTED_INSTRUCTION in shown["prompt"] and shown["prompt"].endswith("<|im_start|>assistant\n<think>\n")


def test_the_automatic_bos_is_shown_once():
    engine = MetadataEngine(info("{{ messages[0]['content'] }}"), add_bos=True)
    assert engine.decoded(engine.render([{"role": "user", "content": "x"}])) == "<s>x"
    assert engine.decoded("<s>x") == "<s>x"


def test_template_file_replaces_the_models(tmp_path):
    path = tmp_path / "t.jinja"
    path.write_text("{{ 'mine' }}")
    assert with_template_file(info("theirs"), Settings(chat_template_file=str(path))).chat_template == "{{ 'mine' }}"
    assert with_template_file(info("theirs"), Settings()).chat_template == "theirs"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"\xff\xfe{{", "not UTF-8"), (b"{% if %}", "chat template file")],
)
def test_a_bad_template_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "t.jinja"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_template_file(path)


# -- the real program, on the real model file (llama.cpp is never loaded) -------------


def thinkcli(home, *args: str) -> subprocess.CompletedProcess:
    code = (
        "import sys\nfrom thinkcli.cli import main\ncode = main(sys.argv[1:])\n"
        "assert 'llama_cpp' not in sys.modules, 'llama.cpp was imported'\nsys.exit(code)"
    )
    env = {**os.environ, "THINKCLI_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.model
def test_print_prompt_prints_the_prompt_from_the_metadata(home_with_model):
    done = thinkcli(home_with_model, "ask", "--print-prompt", "-e", "low", QUESTION)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert f"<|im_start|>user\n{PROMPTED_INSTRUCTION}\n\n{QUESTION}<|im_end|>" in done.stdout
    assert done.stdout.endswith("<|im_start|>assistant\n<think>\n")


@pytest.mark.model
def test_print_prompt_json_with_a_template_file_and_no_think(home_with_model, tmp_path):
    path = tmp_path / "t.jinja"
    path.write_text(SWITCHES)
    done = thinkcli(home_with_model, "ask", "--print-prompt", "--json", "--no-think", "-s", "Hi.",
                    "--chat-template-file", str(path), QUESTION)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc == {
        "prompt": "<|im_start|><|system|>Hi.<|im_end|><|user|>What is 2+2?<|im_end|><|assistant|>effort=low<think></think>",
        "format": "think",
        "starts_in_thinking": False,
        "template": "file",
    }


@pytest.mark.model
def test_the_real_engine_renders_with_the_template_file(home_with_model, tmp_path):
    path = tmp_path / "t.jinja"  # it passes the check on a sample conversation, then fails on the question
    path.write_text(f"{{% if messages[-1]['content'] == '{QUESTION}' %}}"
                    "{{ raise_exception('this template came from the file') }}{% endif %}{{ messages[-1]['content'] }}")
    done = subprocess.run(
        [sys.executable, "-m", "thinkcli", "ask", "--chat-template-file", str(path), "--no-think", QUESTION],
        capture_output=True, text=True, timeout=240, env={**os.environ, "THINKCLI_HOME": str(home_with_model)},
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"thinkcli: error: chat template file {path}: this template came from the file"


# An R1-distill-like template: the generation prompt opens the thought itself.
OPENS_THOUGHT = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
)


@pytest.mark.model
@pytest.mark.parametrize("thinking", [True, False])
def test_a_native_template_file_thinks_or_not_on_the_real_model(home_with_model, tmp_path, thinking):
    path = tmp_path / "t.jinja"
    path.write_text(OPENS_THOUGHT)
    flags = ["-e", "low", "--think-budget", "24"] if thinking else ["--no-think"]
    done = subprocess.run(
        [sys.executable, "-m", "thinkcli", "ask", "--json", "--seed", "3", "--max-tokens", "12",
         "--chat-template-file", str(path), *flags, QUESTION],
        capture_output=True, text=True, timeout=240, env={**os.environ, "THINKCLI_HOME": str(home_with_model)},
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    sample = doc["samples"][0]
    if thinking:
        assert sample["thinking_tokens"] > 0 and doc["reasoning"] and sample["think_end"] in ("stop", "budget")
    else:
        assert (sample["thinking_tokens"], doc["reasoning"], sample["think_end"]) == (0, "", "none")
        assert "<think>" not in doc["answer"] and "</think>" not in doc["answer"]
