"""Tests for thinkcli.reasoning: the streaming parsers and format detection."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinkcli.errors import UsageError
from thinkcli.reasoning import (
    FORMATS,
    NO_THINKING,
    PROMPTED_INSTRUCTION,
    PROMPTED_PREFILL,
    HarmonyParser,
    ReasoningParser,
    detect_format,
    starts_in_thinking,
    thinking_closed_in_prompt,
)

HARMONY_ANALYSIS = "<|channel|>analysis<|message|>"
HARMONY_FINAL = "<|end|><|start|>assistant<|channel|>final<|message|>"


def merge(segments):
    out = []
    for kind, text in segments:
        assert text, "empty segment returned"
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + text)
        else:
            out.append((kind, text))
    return out


def run(parser, pieces):
    segments = []
    for piece in pieces:
        segments += parser.feed(piece)
    return merge(segments + parser.finish())


def think(text, *, thinking=False, pieces=None):
    parser = ReasoningParser("<think>", "</think>", starts_in_thinking=thinking)
    return run(parser, pieces if pieces is not None else [text])


def harmony(text, *, thinking=False, pieces=None):
    return run(HarmonyParser(starts_in_thinking=thinking), pieces if pieces is not None else [text])


# --- ReasoningParser conventions ---------------------------------------------


def test_think_block_then_answer():
    assert think("<think>plan</think>Answer") == [("reasoning", "plan"), ("answer", "Answer")]


def test_leading_whitespace_before_start_tag_is_dropped():
    assert think(" \n\t<think>plan</think>ok") == [("reasoning", "plan"), ("answer", "ok")]


def test_whitespace_after_each_tag_is_stripped_but_not_inside():
    text = "<think>\n  step 1\n\nstep 2\n</think>\n\n  The answer\n\nis 4.\n"
    assert think(text) == [
        ("reasoning", "step 1\n\nstep 2\n"),
        ("answer", "The answer\n\nis 4.\n"),
    ]


def test_start_tag_not_at_beginning_is_answer_text():
    text = "Sure. <think>not reasoning</think> still answer"
    assert think(text) == [("answer", text)]


def test_plain_output_is_all_answer():
    assert think("  Hello there") == [("answer", "Hello there")]


def test_repeated_start_tag_dropped_when_starting_in_thinking():
    text = "\n<think>\nplan</think>ok"
    assert think(text, thinking=True) == [("reasoning", "plan"), ("answer", "ok")]


def test_start_tag_later_in_reasoning_is_reasoning_text():
    text = "I will write <think> literally</think>ok"
    assert think(text, thinking=True) == [
        ("reasoning", "I will write <think> literally"),
        ("answer", "ok"),
    ]


def test_tags_after_the_end_tag_are_answer():
    text = "<think>a</think>b <think>c</think> </think>d"
    assert think(text) == [("reasoning", "a"), ("answer", "b <think>c</think> </think>d")]


def test_no_end_tag_means_all_reasoning():
    assert think("<think>still going") == [("reasoning", "still going")]
    assert think("still going", thinking=True) == [("reasoning", "still going")]


def test_empty_reasoning_block():
    assert think("<think>\n\n</think>\n\nHi", thinking=False) == [("answer", "Hi")]
    assert think("</think>\n\nHi", thinking=True) == [("answer", "Hi")]


def test_tag_split_across_pieces_is_recognised():
    pieces = ["<th", "ink>pl", "an</th", "ink", ">\n", "\nok"]
    assert think("", pieces=pieces) == [("reasoning", "plan"), ("answer", "ok")]


def test_near_tag_is_released_as_soon_as_it_cannot_be_a_tag():
    parser = ReasoningParser("<think>", "</think>", starts_in_thinking=True)
    assert parser.feed("x <") == [("reasoning", "x ")]
    assert parser.pending == "<"
    assert parser.feed("/th") == []
    assert parser.pending == "</th"
    assert parser.feed("e") == [("reasoning", "</the")]
    assert parser.pending == ""
    assert parser.feed("<<") == [("reasoning", "<")]
    assert parser.pending == "<"


def test_near_start_tag_is_released_as_answer():
    parser = ReasoningParser("<think>", "</think>")
    assert parser.feed("<thi") == []
    assert parser.feed("s is html") == [("answer", "<this is html")]


def test_finish_flushes_held_partial_tag_as_the_right_kind():
    parser = ReasoningParser("<think>", "</think>", starts_in_thinking=True)
    assert parser.feed("hmm </thi") == [("reasoning", "hmm ")]
    assert parser.finish() == [("reasoning", "</thi")]

    parser = ReasoningParser("<think>", "</think>")
    assert parser.feed(" <thi") == []
    assert parser.finish() == [("answer", "<thi")]

    parser = ReasoningParser("<think>", "</think>", starts_in_thinking=True)
    assert parser.feed("<thi") == []
    assert parser.finish() == [("reasoning", "<thi")]
    assert parser.finish() == []


def test_segments_merged_within_one_feed_and_never_empty():
    parser = ReasoningParser("<think>", "</think>")
    assert parser.feed("") == []
    assert parser.feed("   ") == []
    assert parser.feed("<think>a</think>  b") == [("reasoning", "a"), ("answer", "b")]
    assert parser.feed("") == []
    parser = ReasoningParser("<think>", "</think>", starts_in_thinking=True)
    assert parser.feed("a <") == [("reasoning", "a ")]
    assert parser.feed("b <c") == [("reasoning", "<b <c")]


def test_state_flags_when_not_starting_in_thinking():
    parser = ReasoningParser("<think>", "</think>")
    assert (parser.in_reasoning, parser.reasoning_closed) == (False, False)
    parser.feed("<think")
    assert (parser.in_reasoning, parser.reasoning_closed) == (False, False)
    parser.feed(">x")
    assert (parser.in_reasoning, parser.reasoning_closed) == (True, False)
    parser.feed("</think>")
    assert (parser.in_reasoning, parser.reasoning_closed) == (False, True)


def test_state_flags_when_starting_in_thinking_and_plain_answer():
    parser = ReasoningParser("<think>", "</think>", starts_in_thinking=True)
    assert (parser.in_reasoning, parser.reasoning_closed) == (True, False)
    parser.feed("a")
    assert parser.in_reasoning
    parser = ReasoningParser("<think>", "</think>")
    parser.feed("Hello")
    assert (parser.in_reasoning, parser.reasoning_closed) == (False, False)


def test_copy_snapshot_undoes_a_piece():
    parser = ReasoningParser("<think>", "</think>", starts_in_thinking=True)
    parser.feed("abc </th")
    snapshot = copy.copy(parser)
    assert parser.feed("ink>answer") == [("answer", "answer")]
    assert parser.reasoning_closed and not snapshot.reasoning_closed
    assert snapshot.in_reasoning and snapshot.pending == "</th"
    assert snapshot.feed("ought") == [("reasoning", "</thought")]


def test_pending_never_longer_than_a_tag_prefix():
    parser = ReasoningParser("<think>", "</think>", starts_in_thinking=True)
    for char in "x</thin</think</think" * 50 + "</think>done":
        parser.feed(char)
        assert len(parser.pending) < len("</think>")
    assert parser.reasoning_closed


def test_magistral_tags():
    parser = FORMATS["magistral"].parser(starts_in_thinking=False)
    pieces = ["[TH", "INK]draft [", "/THI", "NK]\n", "Final: 4"]
    assert run(parser, pieces) == [("reasoning", "draft "), ("answer", "Final: 4")]


@pytest.mark.parametrize("name", ["think", "magistral", "prompted", "harmony"])
def test_feeding_close_text_forces_the_answer(name):
    fmt = FORMATS[name]
    parser = fmt.parser(starts_in_thinking=True)
    partial = fmt.end_tag[:3]
    assert parser.feed("thinking " + partial) == [("reasoning", "thinking ")]
    assert parser.feed(fmt.close) == [("reasoning", partial)]
    assert parser.reasoning_closed and not parser.in_reasoning
    assert parser.feed("\nAnswer") == [("answer", "Answer")]


def test_no_thinking_format_is_all_answer():
    parser = NO_THINKING.parser(starts_in_thinking=False)
    assert run(parser, ["<think>a</think>", "b"]) == [("answer", "<think>a</think>b")]
    assert not parser.in_reasoning


# --- HarmonyParser -------------------------------------------------------------


def test_harmony_analysis_then_final():
    text = HARMONY_ANALYSIS + "Let me think." + HARMONY_FINAL + "It is 4."
    assert harmony(text) == [("reasoning", "Let me think."), ("answer", "It is 4.")]


def test_harmony_without_header_is_answer():
    assert harmony("Just an answer <b>bold</b>") == [("answer", "Just an answer <b>bold</b>")]


def test_harmony_starting_in_thinking():
    text = "thinking..." + HARMONY_FINAL + "done"
    assert harmony(text, thinking=True) == [("reasoning", "thinking..."), ("answer", "done")]


def test_harmony_commentary_is_reasoning_and_headers_are_never_text():
    text = (
        HARMONY_ANALYSIS + "a<|end|>"
        + "<|start|>assistant to=functions.f<|channel|>commentary <|constrain|>json"
        + "<|message|>{}<|call|>"
        + "<|start|>assistant<|channel|>final<|message|>b"
    )
    assert harmony(text) == [("reasoning", "a{}"), ("answer", "b")]


def test_harmony_constrain_ends_the_channel_name_and_text_between_messages_is_dropped():
    text = "<|channel|>final<|constrain|>markdown<|message|> ok"
    assert harmony(text) == [("answer", "ok")]
    text = HARMONY_ANALYSIS + "a<|end|>stray<|start|>assistant<|channel|>final<|message|>b"
    assert harmony(text) == [("reasoning", "a"), ("answer", "b")]


def test_harmony_unknown_specials_and_partial_tokens_are_text():
    assert harmony("x <|foo|> y <|") == [("answer", "x <|foo|> y <|")]
    parser = HarmonyParser(starts_in_thinking=True)
    assert parser.feed("a<|en") == [("reasoning", "a")]
    assert parser.pending == "<|en"
    assert parser.feed("x") == [("reasoning", "<|enx")]


def test_harmony_split_everywhere():
    text = HARMONY_ANALYSIS + "two plus two" + HARMONY_FINAL + "four"
    expected = [("reasoning", "two plus two"), ("answer", "four")]
    for cut in range(len(text) + 1):
        assert harmony("", pieces=[text[:cut], text[cut:]]) == expected
    assert harmony("", pieces=list(text)) == expected


def test_harmony_state_flags():
    parser = HarmonyParser()
    assert (parser.in_reasoning, parser.reasoning_closed) == (False, False)
    parser.feed("<|channel|>analysis<|message|>")
    assert (parser.in_reasoning, parser.reasoning_closed) == (True, False)
    parser.feed("hmm<|end|>")
    assert (parser.in_reasoning, parser.reasoning_closed) == (False, True)
    snapshot = copy.copy(parser)
    parser.feed("<|start|>assistant<|channel|>final<|message|>ok")
    assert not parser.in_reasoning and snapshot.feed("x") == []


# --- format detection ----------------------------------------------------------

QWEN3 = (
    "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' }}"
    "{%- if reasoning_content %}"
    "{{- '<think>\\n' + reasoning_content + '\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)
DEEPSEEK_R1_DISTILL = (
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{'<｜User｜>' + message['content']}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)
GPT_OSS = (
    "{{- '<|start|>system<|message|>' }}Reasoning: {{ reasoning_effort }}"
    "{%- if message.thinking %}{{- '<|start|>assistant<|channel|>analysis<|message|>' "
    "+ message.thinking + '<|end|>' }}{%- endif %}"
    "{%- if add_generation_prompt %}<|start|>assistant{%- endif %}"
)
MAGISTRAL = (
    "{%- set default_system_message = 'First draft your thinking process (inner monologue) "
    "until you arrive at a response. Format your response using Markdown. "
    "[THINK]your thoughts[/THINK] then the answer.' %}{{- bos_token }}"
    "{{- '[SYSTEM_PROMPT]' + default_system_message + '[/SYSTEM_PROMPT]' }}"
)
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' "
    "+ message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.mark.parametrize(
    ("template", "name", "native"),
    [
        (QWEN3, "think", True),
        (DEEPSEEK_R1_DISTILL, "think", True),
        (GPT_OSS, "harmony", True),
        (MAGISTRAL, "magistral", True),
        (CHATML, "prompted", False),
        (None, "prompted", False),
        ("", "prompted", False),
    ],
)
def test_detect_format(template, name, native):
    fmt = detect_format(template)
    assert (fmt.name, fmt.native) == (name, native)
    assert fmt is FORMATS[name]


def test_format_tags():
    assert (FORMATS["think"].start_tag, FORMATS["think"].end_tag) == ("<think>", "</think>")
    assert (FORMATS["magistral"].start_tag, FORMATS["magistral"].end_tag) == ("[THINK]", "[/THINK]")
    assert FORMATS["harmony"].close == HARMONY_FINAL
    assert FORMATS["prompted"].close == "</think>"
    assert isinstance(FORMATS["harmony"].parser(False), HarmonyParser)
    assert isinstance(FORMATS["prompted"].parser(True), ReasoningParser)


@pytest.mark.parametrize("override", ["think", "harmony", "magistral", "prompted"])
def test_override_forces_the_format(override):
    assert detect_format(QWEN3, override).name == override
    assert detect_format(None, override).name == override


def test_unknown_override_is_a_usage_error():
    with pytest.raises(UsageError) as info:
        detect_format(QWEN3, "deepthink")
    message = str(info.value)
    assert "\n" not in message and "deepthink" in message
    for name in ("auto", "think", "harmony", "magistral", "prompted"):
        assert name in message


def test_starts_in_thinking():
    think_fmt = FORMATS["think"]
    assert starts_in_thinking(think_fmt, "<｜User｜>hi<｜Assistant｜><think>\n")
    chatml_prompt = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert not starts_in_thinking(think_fmt, chatml_prompt)
    assert not starts_in_thinking(think_fmt, "<|im_start|>assistant\n<think>\n\n</think>\n\n")
    prompted = FORMATS["prompted"]
    system = "<|im_start|>system\n" + PROMPTED_INSTRUCTION + "<|im_end|>\n<|im_start|>assistant\n"
    assert not starts_in_thinking(prompted, system)
    assert starts_in_thinking(prompted, system + PROMPTED_PREFILL)
    assert starts_in_thinking(FORMATS["harmony"], "<|start|>assistant" + HARMONY_ANALYSIS)
    assert not starts_in_thinking(FORMATS["harmony"], "<|start|>assistant")
    assert not starts_in_thinking(NO_THINKING, "<think>\n")


def test_thinking_closed_in_prompt():
    think_fmt = FORMATS["think"]
    assert thinking_closed_in_prompt(think_fmt, "<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert not thinking_closed_in_prompt(think_fmt, "<|im_start|>assistant\n")
    assert not thinking_closed_in_prompt(think_fmt, "<|im_start|>assistant\n<think>\n")
    harmony_fmt = FORMATS["harmony"]
    assert thinking_closed_in_prompt(harmony_fmt, "<|start|>assistant<|channel|>final<|message|>")
    assert not thinking_closed_in_prompt(harmony_fmt, "<|start|>assistant" + HARMONY_ANALYSIS)


def test_prompted_instruction_and_prefill():
    assert "<think>" in PROMPTED_INSTRUCTION and "</think>" in PROMPTED_INSTRUCTION
    assert "\n" not in PROMPTED_INSTRUCTION
    assert PROMPTED_PREFILL == "<think>\n"


# --- properties: cutting never matters -------------------------------------------

THINK_ALPHABET = ["<", "/", "think", ">", "\n", " ", "a", "<think>", "</think>", "</th"]
MAGISTRAL_ALPHABET = ["[", "/", "THINK", "]", "\n", " ", "a", "[THINK]", "[/THINK]"]
HARMONY_ALPHABET = [
    "<", "|", "<|", "|>", "channel", "message", "end", "start", "analysis", "final",
    "assistant", " ", "\n", "a", HARMONY_ANALYSIS, "<|end|>", "<|start|>", "<|message|>",
    "<|channel|>", "<|constrain|>", "commentary",
]


def texts(alphabet):
    return st.lists(st.sampled_from(alphabet), max_size=30).map("".join)


@st.composite
def pieces_of(draw, text):
    points = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


@st.composite
def cut(draw, alphabet):
    text = draw(texts(alphabet))
    return text, draw(pieces_of(text))


def tag_parser(tags, thinking):
    return lambda: ReasoningParser(*tags, starts_in_thinking=thinking)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    thinking=st.booleans(),
    style=st.sampled_from(
        [(("<think>", "</think>"), THINK_ALPHABET), (("[THINK]", "[/THINK]"), MAGISTRAL_ALPHABET)]
    ),
)
def test_tag_parser_ignores_how_text_is_cut(data, thinking, style):
    tags, alphabet = style
    text, pieces = data.draw(cut(alphabet))
    make = tag_parser(tags, thinking)
    whole = run(make(), [text])
    assert run(make(), pieces) == whole
    assert run(make(), list(text)) == whole


@settings(max_examples=300, deadline=None)
@given(data=st.data(), thinking=st.booleans())
def test_harmony_parser_ignores_how_text_is_cut(data, thinking):
    text, pieces = data.draw(cut(HARMONY_ALPHABET))
    whole = harmony(text, thinking=thinking)
    assert harmony("", thinking=thinking, pieces=pieces) == whole
    assert harmony("", thinking=thinking, pieces=list(text)) == whole


def split(segments):
    parts = {"reasoning": "", "answer": ""}
    for kind, text in segments:
        parts[kind] += text
    return parts["reasoning"], parts["answer"]


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    lead=st.sampled_from(["", " ", "\n\n"]),
    gap=st.sampled_from(["", "\n", "\n\n "]),
)
def test_think_block_reconstructs_its_parts(data, lead, gap):
    reasoning = data.draw(texts(THINK_ALPHABET).filter(lambda r: "</think>" not in r))
    answer = data.draw(texts(THINK_ALPHABET))
    text = lead + "<think>" + reasoning + "</think>" + gap + answer
    pieces = data.draw(pieces_of(text))
    assert split(think("", pieces=pieces)) == (reasoning.lstrip(), answer.lstrip())
    if not reasoning.lstrip().startswith("<think>"):
        assert split(think(reasoning + "</think>" + gap + answer, thinking=True)) == (
            reasoning.lstrip(),
            answer.lstrip(),
        )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_harmony_messages_reconstruct_their_parts(data):
    plain = texts(["<", "|", ">", " ", "\n", "a", "final", "end"]).filter(lambda t: "<|" not in t)
    reasoning, answer = data.draw(plain), data.draw(plain)
    text = HARMONY_ANALYSIS + reasoning + HARMONY_FINAL + answer
    pieces = data.draw(pieces_of(text))
    assert split(harmony("", pieces=pieces)) == (reasoning.lstrip(), answer.lstrip())
