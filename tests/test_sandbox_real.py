"""Hostile chat templates through the real program: from ``--chat-template-file`` and inside a
copy of the real small model, with ``--print-prompt`` and a real ``ask``.

Every run must finish (the subprocess timeout is far above what each takes) with exit 1
and one line on stderr, naming the template file or the model; never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from gguf_files import with_chat_template
from test_sandbox import ERRORS, ESCAPES, LIMITED

QUESTION = "What is 2+2?"
CASES = {
    **{name: ESCAPES[name] for name in ("mro subclasses", "cycler globals", "str.format field", "format filter",
                                        "percent on an object")},
    **{name: LIMITED[name][0] for name in ("nested loops", "huge range", "repeated string", "loop appending",
                                           "printing in a loop", "big number")},
    **{name: ERRORS[name] for name in ("RecursionError", "ZeroDivisionError", "TypeError")},
}
SAID = {"nested loops": "ran over", "huge range": "range() of 100,000,000 items", "repeated string": "characters",
        "loop appending": "ran over", "printing in a loop": "characters", "big number": "bits",
        "RecursionError": "RecursionError", "ZeroDivisionError": "ZeroDivisionError", "TypeError": "TypeError"}


def thinkcli(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "THINKCLI_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "thinkcli", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def fails_in_one_line(done: subprocess.CompletedProcess, origin: str, said: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"thinkcli: error: chat template {origin}: ") and said in lines[0], lines[0]
    assert done.stdout == ""


@pytest.mark.model
@pytest.mark.parametrize("name", CASES)
def test_a_hostile_template_file_fails_in_one_line(home_with_model, tmp_path, name):
    path = tmp_path / "t.jinja"
    path.write_text(CASES[name])
    said = SAID.get(name, "refused by the sandbox")
    for flags in (["--print-prompt"], ["--max-tokens", "4"]):
        done = thinkcli(home_with_model, "ask", "--chat-template-file", str(path), *flags, QUESTION)
        fails_in_one_line(done, f"file {path}", said)


@pytest.mark.model
@pytest.mark.parametrize("name", CASES)
def test_a_hostile_template_inside_a_model_fails_in_one_line(home_with_model, model_path, tmp_path, name):
    model = with_chat_template(model_path, tmp_path / "hostile.gguf", CASES[name])
    said = SAID.get(name, "refused by the sandbox")
    try:  # --no-repack: the copy is a new file, whose repacking llama.cpp would otherwise probe first
        for flags in (["--print-prompt"], ["--max-tokens", "4", "--no-repack"]):
            done = thinkcli(home_with_model, "ask", "-m", str(model), *flags, QUESTION)
            fails_in_one_line(done, "of Smollm2 135M 8k Lc100K Mix1 Ep2 (hostile.gguf)", said)
    finally:
        model.unlink()  # a full copy of the model, per case


@pytest.mark.model
def test_the_copy_with_its_own_template_answers(home_with_model, model_path, tmp_path):
    # the copying itself is sound: a copy with an ordinary template is the real model
    template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    model = with_chat_template(model_path, tmp_path / "copy.gguf", template)
    try:
        done = thinkcli(home_with_model, "ask", "-m", str(model), "--no-think", "--max-tokens", "8", "--seed", "1",
                        "--no-repack", QUESTION)
        assert done.returncode == 0 and done.stdout.strip(), done.stderr
    finally:
        model.unlink()
