"""A model without a chat template: the prompt format chosen from its vocabulary.

Synthetic vocabularies (in tiny GGUF files written by ``test_models.gguf_bytes``) for each
family, for none, and for markers a base model was never tuned on.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from test_models import gguf_bytes, write
from thinkcli.config import Settings
from thinkcli.engine import ModelInfo
from thinkcli.engine.families import COMPLETION, FAMILIES, MARKERS, choose
from thinkcli.engine.fake import FakeEngine
from thinkcli.engine.template import render
from thinkcli.events import Notice
from thinkcli.load import with_fallback
from thinkcli.models.gguf import read_gguf
from thinkcli.models.vocab import marker_tokens
from thinkcli.preview import MetadataEngine, preview
from thinkcli.reasoning import ANSWER_TRIGGER
from thinkcli.session import Knobs, Session

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi?"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "What is 2+2?"},
]
# Anything shaped like a special token: <|x|>, <x>, [X], [|x|], <｜x｜>.
_SPECIAL = re.compile(r"<\|[^|<>\s]+\|>|<[a-z_]+>|</s>|\[/?[A-Z_]+\]|\[\|[a-z]+\|\]|<｜[^｜]+｜>")
CONTROL, NORMAL = 3, 1


def model_file(tmp_path: Path, tokens: dict[str, int], *, eos: str | None = None, name: str = "Tiny Test",
               architecture: str = "llama", types: bool = True) -> Path:
    """A GGUF whose vocabulary is ``<s>``, ``</s>``, two words, then ``tokens`` (text: type)."""
    vocab = ["<s>", "</s>", "hello", "world", *tokens]
    kv: dict[str, object] = {
        "general.architecture": architecture, "general.name": name, "tokenizer.chat_template": None,
        "tokenizer.ggml.tokens": vocab, "tokenizer.ggml.bos_token_id": 0,
        "tokenizer.ggml.eos_token_id": vocab.index(eos) if eos else 1,
        "tokenizer.ggml.token_type": [CONTROL, CONTROL, NORMAL, NORMAL, *tokens.values()] if types else None,
    }
    return write(tmp_path / f"{name.replace(' ', '-')}.gguf", gguf_bytes(kv))


def fallback_info(path: Path) -> ModelInfo:
    gguf = read_gguf(path)
    return with_fallback(ModelInfo(gguf.name, str(path), 0, 0, gguf.chat_template, eos_token="</s>"), path, gguf)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_each_family_is_detected_from_its_markers(tmp_path, family):
    # Tuned: its end-of-turn marker ends generation, or (where the end of a turn is the
    # end of a document) its name says so.
    tokens = dict.fromkeys(family.markers, CONTROL)
    tuned = family.turn_end is not None
    path = model_file(tmp_path, tokens, eos=family.turn_end, name="Tiny" if tuned else "Tiny Instruct")
    info = fallback_info(path)
    assert info.fallback.family == family and info.chat_template == family.template
    assert info.fallback.label == f"{family.name} (detected)"
    note = f"{info.name} has no chat template; using {family.title} (detected from its vocabulary)"
    assert info.fallback.note(info.name) == note


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_a_family_template_writes_only_its_own_markers(family):
    text = render(family.template, CONVERSATION, bos_token="<s>", eos_token="</s>")
    assert "What is 2+2?" in text and "Be brief." in text
    written = set(_SPECIAL.findall(text)) - {"</s>"}
    assert written <= set(family.markers), written - set(family.markers)


def test_a_vocabulary_without_turn_markers_gets_a_completion_prompt(tmp_path):
    info = fallback_info(model_file(tmp_path, {}))
    assert info.fallback.family is COMPLETION and info.fallback.why == "its vocabulary has no turn markers"
    prompt = render(info.chat_template, CONVERSATION)
    assert prompt == "Be brief.\n\nQuestion: Hi?\nAnswer: Hello.\n\nQuestion: What is 2+2?\nAnswer:"


def test_chatml_text_that_is_not_a_special_token_is_never_written(tmp_path):
    # The texts are in the vocabulary, but as ordinary tokens: writing them would be text.
    path = model_file(tmp_path, {"<|im_start|>": NORMAL, "<|im_end|>": NORMAL}, eos="<|im_end|>")
    info = fallback_info(path)
    assert info.fallback.family is COMPLETION
    settings = Settings()
    for level in ("none", "low"):
        shown = preview(MetadataEngine(info), settings, settings.preset(level), "What is 2+2?")
        assert "<|im_start|>" not in shown["prompt"] and shown["template"] == "completion (detected)"


def test_markers_a_base_model_was_not_tuned_on_get_a_completion_prompt(tmp_path):
    gemma = {"<start_of_turn>": CONTROL, "<end_of_turn>": CONTROL}
    base = fallback_info(model_file(tmp_path, gemma, name="Gemma 3 270m", architecture="gemma3"))
    assert base.fallback.family is COMPLETION
    assert base.fallback.why == "it has the markers of the Gemma turn format, but nothing says it was tuned on them"
    tuned = fallback_info(model_file(tmp_path, gemma, name="gemma-3-270m-it", architecture="gemma3"))
    assert tuned.fallback.family.name == "gemma"


def test_the_architecture_breaks_a_tie_and_longer_marker_sets_come_first(tmp_path):
    both = {"<|im_start|>", "<|im_end|>", "<|im_sep|>", "<|user|>", "<|assistant|>", "<|end|>", "<|system|>"}
    assert choose(both, {"<|im_end|>"}).family.name == "phi4"
    assert choose(both, {"<|end|>"}, architecture="phi3").family.name == "phi3"
    assert choose({"<|im_start|>", "<|im_end|>"}, {"<|im_end|>"}).family.name == "chatml"
    assert choose({"<|im_start|>"}, set(), names=["x-instruct"]).family is COMPLETION  # half a family


@pytest.mark.parametrize("name, tuned", [
    ("Qwen2.5-0.5B-Instruct", True), ("gemma-3-1b-it", True), ("Hermes chat", True), ("SmolLM2-135M", False),
    ("Mistral-7B-v0.3", False), ("Italian-base", False),
])
def test_names_that_say_a_model_was_tuned(name, tuned):
    chosen = choose({"[INST]", "[/INST]"}, set(), names=[name])
    assert (chosen.family.name == "mistral") is tuned


def test_marker_tokens_reads_types_and_end_tokens(tmp_path):
    path = model_file(tmp_path, {"<|im_start|>": CONTROL, "<|im_end|>": 4, "[INST]": NORMAL}, eos="<|im_end|>")
    found = marker_tokens(path, MARKERS)
    assert found.found == {"<|im_start|>", "<|im_end|>"} and found.ends == {"<|im_end|>"}
    untyped = model_file(tmp_path, {"[INST]": NORMAL}, name="untyped", types=False)
    assert marker_tokens(untyped, MARKERS).found == {"[INST]"}  # no types: presence is all there is


def test_a_model_with_its_own_template_is_left_alone(tmp_path):
    path = write(tmp_path / "own.gguf", gguf_bytes())
    gguf = read_gguf(path)
    info = ModelInfo(gguf.name, str(path), 0, 0, gguf.chat_template)
    assert with_fallback(info, path, gguf) is info


def test_a_session_says_which_fallback_once_and_answers_one_line_after_the_cue(tmp_path):
    info = fallback_info(model_file(tmp_path, {}))
    engine = FakeEngine([[" 4\n", "\n", "Question:", " What is 3+3?"]], name=info.name)
    engine.info = replace(engine.info, chat_template=info.chat_template, fallback=info.fallback)
    session = Session(engine, Settings(seed=1, effort="none"), Knobs())
    messages = session.messages("What is 2+2?")
    events = list(session.turn(messages, session.plan(messages)))
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert notices == [f"{info.name} has no chat template; using a plain completion prompt "
                       "(its vocabulary has no turn markers)"]
    assert engine.prompts[0].endswith("Question: What is 2+2?\nAnswer:")
    assert session.fmt.answer_cue and session.fmt.name == "stepwise"
    answer = "".join(e.text for e in events if getattr(e, "kind", "") == "answer")
    assert answer.strip() == "4"  # the base model's next question is not part of it
    again = list(session.turn(messages, session.plan(messages)))
    assert not any(isinstance(e, Notice) for e in again)


def test_thinking_after_the_cue_is_stepwise_on_the_cue_line(tmp_path):
    info = fallback_info(model_file(tmp_path, {}))
    settings = Settings()
    shown = preview(MetadataEngine(info), settings, settings.preset("low"), "What is 2+2?")
    assert shown["prompt"] == "Question: What is 2+2?\nAnswer: Let's think step by step.\n"
    assert shown["format"] == "stepwise" and shown["starts_in_thinking"] is True
    forced = preview(MetadataEngine(info), Settings(reasoning_format="think"), settings.preset("low"), "q")
    assert forced["format"] == "think"  # an explicit format still wins
    assert ANSWER_TRIGGER not in shown["prompt"]
