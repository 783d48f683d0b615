"""The think-then-answer loop, effort strategies and voting, behind the scripted engine.

Each piece of a script is one generated token; ``TracedEngine`` also rebuilds what
each sequence's context holds (generated and injected text, minus rewinds).
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from thinkcli.engine import Sampling
from thinkcli.engine.fake import EOG, FakeBatch, FakeEngine
from thinkcli.events import Done, Explored, Notice, Progress, Text, ThinkingDone
from thinkcli.reasoning import FORMATS, NO_THINKING, PROMPTED_INSTRUCTION, PROMPTED_PREFILL, detect_format
from thinkcli.turn import events as run_events
from thinkcli.vote import Ballot
from thinkcli.turn import Budget, Plan, Run, partial
from thinkcli.turn.prompt import build_prompt
from thinkcli.turn.sample import MAX_STALLS
from thinkcli.render.summary import explored_line
from thinkcli.turn.run import PRUNE_AFTER, VERIFY_PROMPT, _last_line

USER = [{"role": "user", "content": "q"}]
MAX_STEPS = 5000  # the fake never fills its context by itself: a loop that ignores room would hang
THOUGHT = ["Let", " me", " think", "</think>", "The", " answer", " is", " 4", EOG]

QWEN3 = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}"
    "{% endif %}"
)
R1 = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|Assistant|><think>\\n' }}{% endif %}"
)


class TracedBatch(FakeBatch):
    """A FakeBatch that also keeps each sequence's context as [text, tokens] chunks."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.context: dict[int, list[list]] = defaultdict(list)

    def step(self):
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps > MAX_STEPS:
            raise AssertionError(f"runaway decode loop: {self.steps} steps, {len(self.injected)} injections")
        tokens = super().step()
        for t in tokens:
            if not t.eog:
                self.context[t.seq].append([t.text, 1])
        return tokens

    def admit(self, seqs, prompt, **kw):
        for seq in seqs:
            self.context[seq] = []
        return super().admit(seqs, prompt, **kw)

    def inject(self, seq: int, text: str) -> int:
        n = super().inject(seq, text)
        self.context[seq].append([text, n])
        return n

    def rewind(self, seq: int, n_tokens: int) -> None:
        super().rewind(seq, n_tokens)
        chunks = self.context[seq]
        while n_tokens > 0 and chunks:
            text, size = chunks[-1]
            if size <= n_tokens:
                chunks.pop()
            else:  # part of an injection: keep its share of the text
                chunks[-1] = [text[: len(text) * (size - n_tokens) // size], size - n_tokens]
            n_tokens -= min(size, n_tokens)

    def seen(self, seq: int = 0) -> str:
        return "".join(text for text, _ in self.context[seq])


class TracedEngine(FakeEngine):
    def start(self, prompt, *, n, sampling, seeds):
        plain = super().start(prompt, n=n, sampling=sampling, seeds=seeds)
        batch = TracedBatch(plain.scripts, plain.n_ctx, plain.prompt_tokens, plain.prompt_eval_tokens, engine=self)
        self.batches[-1] = batch
        return batch


def make_plan(selection: str = "single", samples: int = 1, *, thinking: bool = True, **budget) -> Plan:
    budget.setdefault("think", 100)
    return Plan("test", selection, samples, Budget(**budget), thinking, Sampling(0.6, 0.95, 20), 7)


def make_run(scripts, plan: Plan, *, template: str | None = None, fmt: str = "prompted"):
    engine = TracedEngine(scripts, chat_template=template)
    return engine, Run(engine, list(USER), plan, FORMATS[fmt])


def drive(scripts, selection: str = "single", samples: int = 1, **kw):
    """Run a strategy to the end; returns (engine, run, events, result)."""
    template, fmt = kw.pop("template", None), kw.pop("fmt", "prompted")
    engine, run = make_run(scripts, make_plan(selection, samples, **kw), template=template, fmt=fmt)
    events = list(run_events(run))
    assert isinstance(events[-1], Done)
    return engine, run, events, events[-1].result


def texts(events, kind: str) -> str:
    return "".join(e.text for e in events if isinstance(e, Text) and e.kind == kind)


def answer_script(answer: str, confidence: float, *, think: int = 3) -> list:
    """A path whose every token has ``confidence``: its trace confidence is exactly that."""
    return [("x", -0.1, confidence)] * think + [("</think>", -0.1, confidence), (f"Answer: {answer}", -0.1, confidence), EOG]


# -- 1. prompt building ---------------------------------------------------------


def test_prompted_format_adds_the_instruction_and_prefills_the_open_tag():
    prompt, starts = build_prompt(FakeEngine([[]]), FORMATS["prompted"], USER, thinking=True)
    system = prompt.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\n") and PROMPTED_INSTRUCTION in system
    assert prompt.endswith("<|im_start|>assistant\n" + PROMPTED_PREFILL) and starts is True
    with_sys = [{"role": "system", "content": "Be brief."}, *USER]
    prompt, _ = build_prompt(FakeEngine([[]]), FORMATS["prompted"], with_sys, thinking=True)
    assert prompt.count("<|im_start|>system") == 1 and f"Be brief.\n\n{PROMPTED_INSTRUCTION}" in prompt


def test_thinking_off_has_no_instruction_no_prefill_and_all_output_is_answer():
    prompt, starts = build_prompt(FakeEngine([[]]), NO_THINKING, USER, thinking=False)
    assert PROMPTED_INSTRUCTION not in prompt and prompt.endswith("<|im_start|>assistant\n") and not starts
    engine, _, events, result = drive([["The", " answer", " is", " 4", EOG]], thinking=False)
    assert PROMPTED_INSTRUCTION not in engine.prompts[0] and not engine.prompts[0].endswith(PROMPTED_PREFILL)
    assert (result.answer, result.reasoning, result.stats.thinking_tokens) == ("The answer is 4", "", 0)
    assert not any(isinstance(e, ThinkingDone) for e in events)


def test_qwen3_like_template_switches_thinking_through_enable_thinking():
    engine = FakeEngine([[]], chat_template=QWEN3)
    fmt = detect_format(QWEN3)
    assert fmt.name == "think"
    off, starts_off = build_prompt(engine, fmt, USER, thinking=False)
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") and off.count("</think>") == 1
    assert starts_off is False
    on, starts_on = build_prompt(engine, fmt, USER, thinking=True)
    assert on.endswith("<|im_start|>assistant\n") and "<think>" not in on and starts_on is False
    script = ["<think>", "\n", "hm", "</think>", "\n\n", "4", EOG]
    _, _, _, result = drive([script], template=QWEN3, fmt="think")
    assert (result.reasoning, result.answer) == ("hm", "4")


def test_r1_like_template_gets_thinking_closed_when_off_and_starts_inside_when_on():
    engine = FakeEngine([[]], chat_template=R1)
    fmt = detect_format(R1)
    off, starts_off = build_prompt(engine, fmt, USER, thinking=False)
    assert off.endswith("<|Assistant|><think>\n\n</think>\n\n") and starts_off is False
    on, starts_on = build_prompt(engine, fmt, USER, thinking=True)
    assert on.endswith("<think>\n") and "</think>" not in on and starts_on is True
    _, _, _, result = drive([["Hmm", "</think>", "4", EOG]], template=R1, fmt="think")
    assert (result.reasoning, result.answer, result.samples[0].think_end) == ("Hmm", "4", "stop")


# -- 2. single ------------------------------------------------------------------


def test_single_streams_reasoning_then_thinking_done_then_answer():
    _, _, events, result = drive([THOUGHT])
    kinds = [e.kind if isinstance(e, Text) else type(e).__name__ for e in events]
    done_at = kinds.index("ThinkingDone")
    assert set(kinds[:done_at]) == {"reasoning"} and done_at > 0
    assert set(kinds[done_at + 1 : -1]) == {"answer"} and kinds[-1] == "Done"
    assert events[done_at].reason == "stop" and events[done_at].tokens == 4
    assert texts(events, "reasoning") == "Let me think" and texts(events, "answer") == "The answer is 4"
    assert (result.reasoning, result.answer) == ("Let me think", "The answer is 4")
    assert (result.stats.thinking_tokens, result.stats.answer_tokens) == (4, 4)  # the close tag is thought
    assert result.samples[0].extracted == "4" and result.samples[0].answer_end == "stop"


# -- 3. budget forcing ----------------------------------------------------------


def test_budget_forces_the_close_with_the_wrap_up_at_the_budget():
    script = [" step"] * 10 + ["The", " answer", " is", " 7", EOG]  # never closes by itself
    wrap = "\nOK, time to answer.\n"
    engine, _, events, result = drive([script], think=10, wrap_up=wrap)
    assert engine.batches[0].injected == [(0, wrap + "</think>")]
    assert result.stats.thinking_tokens == 10 and result.samples[0].think_end == "budget"
    assert [e.reason for e in events if isinstance(e, ThinkingDone)] == ["budget"]
    assert result.answer == "The answer is 7"
    assert result.reasoning == "step" + " step" * 9 + "\nOK, time to answer."
    assert engine.batches[0].seen() == " step" * 10 + wrap + "</think>" + "The answer is 7"


# -- 4. min_think -----------------------------------------------------------------

LATE = [" a", " b", " c", " d", " e", " f", " g", "</think>", "Answer: 4", EOG]


@pytest.mark.parametrize("close", [["</think>Answer: 3"], ["</th", "ink>Answer: 3"]], ids=["whole", "split"])
def test_an_early_close_is_rewound_and_thinking_goes_on(close):
    engine, _, events, result = drive([["One", " two", *close, *LATE]], min_think=8)
    batch = engine.batches[0]
    assert batch.rewound == [(0, len(close))]
    assert batch.injected == [(0, "\nWait,")]
    assert result.reasoning == "One two\nWait, a b c d e f g"
    assert "3" not in result.answer and result.answer == "Answer: 4"
    assert "3" not in texts(events, "answer") + texts(events, "reasoning")
    done = [e for e in events if isinstance(e, ThinkingDone)]
    assert len(done) == 1 and done[0].reason == "stop" and done[0].tokens >= 8
    assert result.stats.thinking_tokens == 10  # One, two, a..g and the accepted close
    assert batch.seen().split("</think>")[0] == result.reasoning  # the model saw what the user sees


def test_custom_continuations_are_used_in_turn():
    script = ["One", "</think>", " a", "</think>", " b", "</think>", " c", "</think>", "4", EOG]
    engine, _, _, result = drive([script], min_think=5, continuations=("Hmm,", "But"))
    injected = [text for _, text in engine.batches[0].injected]
    assert [t.split("\n")[-1] for t in injected] == ["Hmm,", "But", "Hmm,"]
    assert result.reasoning == "One\nHmm, a\nBut b\nHmm, c" and result.answer == "4"


def test_a_close_right_after_a_continuation_keeps_the_context_equal_to_the_trace():
    # BUG (sample.py _reject_close): the continuation injected on the first rejection is not
    # generated, so it is not rewound, yet it is re-injected as part of ``kept``:
    # the model's context reads "One\nHmm,\nHmm,\nBut ..." while the trace shows "One\nHmm,\nBut ...".
    script = ["One", "</think>", "</think>", " b", " c", "</think>", "4", EOG]
    engine, _, _, result = drive([script], min_think=4, continuations=("Hmm,", "But"))
    assert result.reasoning == "One\nHmm,\nBut b c"
    assert engine.batches[0].seen().split("</think>")[0] == result.reasoning


# -- 5. end of generation while thinking --------------------------------------------


def test_an_end_before_min_think_gets_a_continuation():
    engine, _, events, result = drive([["a", EOG, " b", " c", "</think>", "4", EOG]], min_think=3)
    assert engine.batches[0].injected == [(0, "\nWait,")]
    assert result.reasoning == "a\nWait, b c" and result.answer == "4"
    assert [e.reason for e in events if isinstance(e, ThinkingDone)] == ["stop"]


def test_an_end_after_min_think_closes_thinking_and_an_answer_follows():
    engine, _, events, result = drive([["a", " b", " c", EOG, EOG, "Answer", EOG]], min_think=2)
    assert engine.batches[0].injected == [(0, "\n</think>")]
    assert result.samples[0].think_end == "stop" and result.reasoning == "a b c"
    assert result.answer == "Answer"  # the end right after the close was refused
    assert [e.reason for e in events if isinstance(e, ThinkingDone)] == ["stop"]


def test_the_answer_may_not_end_before_it_starts():
    _, _, _, result = drive([["Let", "</think>", EOG, "Answer", EOG]])
    assert result.answer == "Answer" and result.samples[0].answer_end == "stop"
    _, _, _, blank = drive([["Let", "</think>", "\n\n", EOG, "4", EOG]])  # still blank after "\n\n"
    assert blank.answer == "4"
    _, _, _, after = drive([["Let", "</think>", "4", EOG, "5", EOG]])  # started: an end is an end
    assert after.answer == "4"


def test_a_model_that_keeps_ending_before_min_think_still_terminates():
    # A model that only ends its turn must not get "\nWait," injected until the context is full.
    engine = TracedEngine([["a", EOG]], n_ctx=512)
    run = Run(engine, list(USER), make_plan(min_think=100), FORMATS["prompted"])
    events = list(run_events(run))
    assert engine.batches[0].steps < MAX_STEPS
    assert [e.reason for e in events if isinstance(e, ThinkingDone)] in (["length"], ["stop"])


def test_a_model_that_closes_again_right_after_each_continuation_is_let_go():
    script = ["a", " b"] + ["</think>"] * (MAX_STALLS + 2) + ["Done."]
    engine, _, _, result = drive([script], min_think=50)
    sample = result.samples[0]
    assert sample.reasoning.count("Wait,") == MAX_STALLS + 1  # the first close, then the stalls
    assert sample.think_end == "stop" and sample.thinking_tokens < 50
    assert result.answer == "Done."


# -- 6. answer cap ----------------------------------------------------------------


def test_the_answer_is_capped_at_max_answer():
    engine, _, _, result = drive([THOUGHT], max_answer=3)
    assert result.answer == "The answer is" and result.stats.answer_tokens == 3
    assert result.samples[0].answer_end == "length"
    assert engine.batches[0].stopped == [0] and engine.batches[0].closed


# -- 7. vote ----------------------------------------------------------------------


def test_vote_takes_the_most_confident_sample_of_the_majority():
    scripts = [answer_script("4", 2.0), answer_script("4", 3.0, think=5), answer_script("5", 4.0)]
    engine, _, events, result = drive(scripts, "vote", 3)
    assert set(result.votes) == {"4", "5"} and result.votes["4"] > result.votes["5"]
    assert result.chosen == 1 and result.answer == "Answer: 4"
    explored = next(i for i, e in enumerate(events) if isinstance(e, Explored))
    first_answer = next(i for i, e in enumerate(events) if isinstance(e, Text) and e.kind == "answer")
    assert events[explored].agree == 2 and events[explored].chosen == 1 and explored < first_answer
    assert any(isinstance(e, Progress) for e in events[:explored])
    assert result.stats.thinking_tokens == 4 + 6 + 4
    assert engine.seeds == [[7, 8, 9]] and len(engine.prompts) == 1 and len(engine.batches) == 1


def test_one_confident_sample_outweighs_two_unsure_ones():
    scripts = [answer_script("4", 1.0), answer_script("4", 1.0), answer_script("5", 4.0)]
    _, _, events, result = drive(scripts, "vote", 3)
    assert result.chosen == 2 and result.answer == "Answer: 5"
    assert result.votes["5"] > result.votes["4"]
    assert next(e for e in events if isinstance(e, Explored)).agree == 1


# -- 8. vote+verify ---------------------------------------------------------------

VOTERS = [answer_script("4", 3.0), answer_script("4", 2.5), answer_script("5", 2.0)]
YES, NO = [("Yes", -0.1), EOG], [("No", -0.1), EOG]


def test_verify_weighs_every_voter_and_can_turn_the_vote():
    engine, _, events, result = drive([*VOTERS, NO, NO, YES], "vote+verify", 3)
    assert len(engine.prompts) == 4 and engine.seeds[1:] == [[7], [7], [7]]
    check = engine.prompts[1]
    assert VERIFY_PROMPT in check and "Answer: 4" in check
    assert PROMPTED_INSTRUCTION not in check and not check.endswith(PROMPTED_PREFILL)
    assert any(isinstance(e, Notice) and "from 4 to 5" in e.text for e in events)
    assert result.chosen == 2 and result.answer == "Answer: 5"
    assert result.samples[0].verified is False and result.samples[0].verify_p < 0.01
    assert result.samples[2].verified is True
    assert result.votes["5"] > result.votes["4"]


def test_verify_accepting_the_leader_keeps_it():
    _, _, events, result = drive([*VOTERS, YES, YES, YES], "vote+verify", 3)
    assert result.chosen == 0 and result.answer == "Answer: 4"
    assert result.samples[0].verified is True and result.samples[0].verify_p > 0.99
    assert not any(isinstance(e, Notice) for e in events)


def test_verify_reads_not_correct_as_a_rejection():
    # "This is not correct." contains the word "correct"; the verdict is read from the
    # probability of the first token instead, which here is neither Yes nor No.
    unclear = [("This is not correct.", -0.1), EOG]
    _, _, _, result = drive([*VOTERS, unclear, unclear, unclear], "vote+verify", 3)
    assert result.samples[0].verify_p is None and result.samples[0].verified is None
    assert result.chosen == 0  # no verdict: the weight stays the confidence
    no = [("no, that is not correct", -0.2), EOG]
    _, _, _, result = drive([*VOTERS, no, no, YES], "vote+verify", 3)
    assert result.samples[0].verified is False and result.chosen == 2


def test_a_voter_the_verifier_cannot_judge_counts_as_an_even_chance():
    # Path 0 is surer, but the verifier can say nothing of it; path 1 it all but confirms.
    # Counted at full weight, the unjudged path would outvote the confirmed one.
    unclear = [("This is not correct.", -0.1), EOG]
    _, _, _, result = drive([answer_script("4", 3.0), answer_script("5", 2.5), unclear, YES], "vote+verify", 2)
    assert result.samples[0].verify_p is None and result.samples[1].verify_p > 0.99
    assert result.answer == "Answer: 5" and result.votes["5"] > result.votes["4"]


def test_verify_probability_weighs_both_choices():
    engine = FakeEngine([[("Yes", math.log(0.3)), EOG]])
    batch = engine.start("q", n=1, sampling=Sampling(), seeds=[1])
    yes, no = batch.choice_logprobs(0, [["Yes"], ["No"]])
    assert yes == pytest.approx(math.log(0.3)) and no == -8.0


# -- 9. adaptive ------------------------------------------------------------------


def test_adaptive_stops_when_the_first_two_agree():
    engine, _, _, result = drive([answer_script("4", 2.0)], "adaptive", 8)
    assert len(engine.batches) == 1 and engine.seeds == [[7, 8]]
    assert len(result.samples) == 2 and result.answer == "Answer: 4"


def test_adaptive_adds_paths_while_they_disagree_up_to_the_plan():
    scripts = [answer_script("4", 2.0), answer_script("5", 2.0)]
    engine, _, _, result = drive(scripts, "adaptive", 5)
    assert engine.seeds == [[7, 8], [9, 10], [11]]  # three rounds, admitted into one batch
    assert len(result.samples) == 5 and len(engine.batches) == 1


def test_adaptive_counts_agreement_only_among_paths_that_may_vote():
    finished = answer_script("4", 2.0)
    cut = [("x", -0.1)] * 3 + [("</think>", -0.1), ("Answer: 4", -0.1), ("\n", -0.1)] + [(" more", -0.1)] * 20 + [EOG]
    engine, _, _, result = drive([finished, cut], "adaptive", 6, max_answer=5)
    # a cut answer agreeing with the finished one does not settle the first round
    assert engine.seeds == [[7, 8], [9, 10]]
    assert [s.answer_end for s in result.samples] == ["stop", "length", "stop", "length"]
    assert result.samples[1].why_not == "answer cut by the length limit"


def test_adaptive_caps_only_the_first_rounds_budget():
    def long(answer):
        return [f" w{i}" for i in range(1100)] + ["</think>", f"Answer: {answer}", EOG]  # no loop

    _, _, _, result = drive([long("4"), long("5")], "adaptive", 4, think=2000, min_think=1050)
    first, later = result.samples[:2], result.samples[2:]
    assert [s.thinking_tokens for s in first] == [1024, 1024]
    assert {s.think_end for s in first} == {"budget"}
    assert [s.thinking_tokens for s in later] == [1101, 1101]
    assert {s.think_end for s in later} == {"stop"}


# -- 10. interrupt ----------------------------------------------------------------


def test_an_interrupted_vote_keeps_what_it_has():
    scripts = [["x", " y"] * 20 + ["</think>", "Answer: 4", EOG]] * 3
    engine, run = make_run(scripts, make_plan("vote", 3))
    gen = run_events(run)
    first = next(gen)
    assert isinstance(first, Progress)
    gen.close()
    result = partial(run)
    assert result.interrupted and engine.batches[0].closed
    assert len(result.samples) == 3
    for sample in result.samples:
        assert sample.reasoning == "x yx y" and sample.thinking_tokens == 4
        assert (sample.think_end, sample.answer_end) == ("interrupted", "interrupted")


def test_an_interrupted_answer_keeps_the_text_so_far():
    engine, run = make_run([THOUGHT], make_plan())
    gen = run_events(run)
    for event in gen:
        if isinstance(event, Text) and event.text == " answer":
            break
    gen.close()
    result = partial(run)
    assert result.interrupted and result.answer == "The answer"
    assert result.reasoning == "Let me think" and result.samples[0].answer_end == "interrupted"
    assert result.samples[0].think_end == "stop"


# -- 11. pruning ------------------------------------------------------------------


def test_a_path_below_the_floor_is_pruned_and_does_not_vote():
    sure = answer_script("4", 3.0, think=80)
    unsure = [("x", -5.0, 0.5)] * 80 + [("</think>", -0.1), ("Answer: 5", -0.01), EOG]
    engine, run = make_run([sure, unsure], make_plan("vote", 2))
    events = list(run.sched.solo(run.explore(2, floor=1.0)))
    assert events and all(isinstance(e, Progress) for e in events)
    kept, pruned = (s.result() for s in run.samples)
    assert pruned.think_end == "pruned" and pruned.thinking_tokens == PRUNE_AFTER
    assert pruned.answer == "" and 1 in engine.batches[0].stopped
    assert kept.think_end == "stop" and kept.extracted == "4"
    assert run.voters() == [0]
    tally, indexes = run.tally()
    assert tally.votes.keys() == {"4"} and indexes == [0]


def test_no_floor_means_no_pruning():
    unsure = [("x", -5.0, 0.5)] * 80 + [("</think>", -0.1), ("Answer: 5", -0.01), EOG]
    _, run = make_run([unsure], make_plan())
    list(run.sched.solo(run.explore(1)))
    assert run.samples[0].result().think_end == "stop" and run.voters() == [0]


def test_events_carry_the_budget_and_a_glimpse_of_each_path():
    _, _, events, _ = drive([["Let me", " see.\nStill", " going", "</think>", "It is 4."]], think=64)
    reasoning = [e for e in events if isinstance(e, Text) and e.kind == "reasoning"]
    assert reasoning and all(e.budget == 64 for e in reasoning)

    paths = [["First line\nsecond", " thought", "</think>", "Answer: 4"], ["Other path", "</think>", "Answer: 5"]]
    _, _, events, _ = drive(paths, "vote", 2, think=48)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and all(e.budget == 48 for e in progress)
    assert {e.sample: e.line for e in progress} == {0: "Answer: 4", 1: "Answer: 5"}
    assert _last_line("First line\nsecond thought\n\n") == "second thought"
    assert _last_line("x" * 500) == "x" * 80


def test_a_vote_stops_paths_that_cannot_change_the_winner():
    quick = answer_script("4", 2.0)  # as confident as the runaway path's default tokens
    runaway = [("x", -0.1)] * 300 + [("</think>", -0.1), ("Answer: 7", -0.05), EOG]
    engine, _, events, result = drive([quick, quick, quick, runaway], "vote", 4, think=400)
    late = result.samples[3]
    assert late.answer_end == "decided" and late.think_end == "decided" and late.thinking_tokens < 50
    assert engine.batches[0].stopped[-1] == 3
    assert result.answer.endswith("4") and set(result.votes) == {"4"}
    explored = next(e for e in events if isinstance(e, Explored))
    assert "· 1 stopped, decided" in explored_line(explored)


def test_a_vote_waits_for_paths_that_could_still_change_the_winner():
    slow = [("x", -0.1)] * 30 + [("</think>", -0.1), ("Answer: 5", -0.05), EOG]
    _, _, _, result = drive([answer_script("4", 2.0), answer_script("5", 2.0), slow], "vote", 3, think=400)
    assert [s.answer_end for s in result.samples] == ["stop", "stop", "stop"]
    assert result.answer.endswith("5")


def test_cannot_change_winner_counts_each_unfinished_path_as_a_full_vote():
    from thinkcli.turn.run import GROWTH, cannot_change_winner

    def ballots(**weights):  # one ballot of confidence w per answer a
        return [Ballot(a.lstrip("_"), w) for a, ws in weights.items() for w in ws]

    assert cannot_change_winner(ballots(_4=[2.7]), 1, most=2.0)
    assert not cannot_change_winner(ballots(_4=[2.7]), 3, most=1.0)
    assert cannot_change_winner(ballots(_4=[2.7], _5=[0.9]), 0)
    assert not cannot_change_winner(ballots(_4=[1.8], _5=[0.9]), 1)
    assert not cannot_change_winner([], 1)
    # A path's weakest stretch may still grow with its trace: a lead of exactly one more path's
    # present confidence is not enough (before, it stopped that path).
    assert not cannot_change_winner(ballots(_4=[1.1]), 1, most=1.0)
    assert cannot_change_winner(ballots(_4=[1.1]), 1, most=1.1 / GROWTH - 0.01)


def test_cannot_change_winner_does_not_count_ballots_the_keep_filter_may_drop():
    from thinkcli.turn.run import cannot_change_winner

    votes = [Ballot("4", 3.0), Ballot("4", 3.0), Ballot("4", 0.2), Ballot("5", 2.9)]
    # Without the filter the leader is ahead by 3.3 against one path of 1.0 * GROWTH...
    assert cannot_change_winner(votes, 1, most=1.0, keep=1.0)
    # ...but with 5 paths in all, keeping 60% drops two: at worst the leader's 0.2 and one 3.0.
    assert not cannot_change_winner(votes, 1, most=1.0, keep=0.6)