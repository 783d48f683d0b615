"""Selection that more compute cannot make worse: the paths of a real run, scripted.

The scripts replay a real ``high`` run of the small model on "Hana has 9 marbles
and gets 8 more": a path that barely thought and rambled with high token
confidence, one that drifted to another problem, and the ones that reasoned.
"""

from __future__ import annotations

import random

from thinkcli.engine import Sampling
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.events import Done, Explored
from thinkcli.reasoning import FORMATS
from thinkcli.turn import events as run_events
from thinkcli.turn import Budget, Plan, Run

HANA = [{"role": "user", "content": "Hana has 9 marbles and gets 8 more. How many marbles does Hana have now?"}]


def words(text: str, confidence: float) -> list:
    """One token per word (with its leading space), each with ``confidence``."""
    parts = text.split(" ")
    return [((" " if i else "") + w, -0.5, confidence) for i, w in enumerate(parts)]


def path(thinking: list, answer: list) -> list:
    return [*thinking, ("</think>", -0.1, 3.0), *answer, EOG]


FILLER_WORDS = ("let", "me", "think", "about", "the", "marbles", "first", "then", "check", "count",
                "carefully", "what", "she", "had", "gets", "more", "so", "we", "add", "them")


def filler(n: int, confidence: float) -> list:
    """``n`` tokens of words in no repeating order (a path that says one word over and over loops)."""
    rng = random.Random(n)
    return [(" " + rng.choice(FILLER_WORDS), -0.5, confidence) for _ in range(n)]


TABLE = [
    # 1: thought 114 tokens; its "final answer" is a phrase
    path(filler(114, 3.0), words("So the final answer is a simple multiplication of 100% but we must "
                                 "check the numbers again. It depends on the marbles.", 3.0)),
    # 2: thought 116 tokens, reasoned to 17
    path(filler(110, 4.0) + words("So the answer is 17.", 4.0), words("Hana has 17 marbles now.", 4.0)),
    # 3: thought 388 tokens, stated 16
    path(filler(388, 3.5), words("The final answer is 16.", 3.5)),
    # 4: closed its thinking after 18 tokens, then 711 tokens of confident rambling ending on 9
    path(filler(18, 9.0), filler(700, 9.0) + words("So the answer is 9.", 9.0)),
    # 5: drifted to a snail in a well (a stretch of low confidence), answered that problem
    path(filler(60, 6.0) + filler(40, 0.8) + filler(51, 6.0), words("The snail needs 2 days.", 9.0)),
]


def run_vote(scripts: list, samples: int, *, max_answer: int = 2048, selection: str = "vote") -> tuple:
    plan = Plan("high", selection, samples, Budget(think=400, max_answer=max_answer), True, Sampling(0.6, 0.95, 20), 7)
    engine = FakeEngine(scripts, n_ctx=32768)
    events = list(run_events(Run(engine, list(HANA), plan, FORMATS["prompted"])))
    assert isinstance(events[-1], Done)
    return events, events[-1].result


def test_the_reasoned_path_beats_the_rambling_confident_one():
    events, result = run_vote(TABLE, 5)
    assert result.answer == "Hana has 17 marbles now." and result.chosen == 1
    samples = result.samples
    assert [s.extracted for s in samples] == [None, "17", "16", "9", "2"]
    assert samples[0].why_not == "no final answer stated" and not samples[0].voted
    assert samples[3].why_not.startswith("thought in the answer") and not samples[3].voted
    assert samples[1].voted and samples[2].voted and samples[4].voted
    # path 5's drift shows in its lowest window, though its answer was sure of itself
    assert samples[4].confidence < samples[2].confidence < samples[1].confidence
    assert set(result.votes) == {"17", "16", "2"}
    assert next(e for e in events if isinstance(e, Explored)).chosen == 1


def test_the_json_says_per_path_whether_it_voted_and_why_not():
    _, result = run_vote(TABLE, 5)
    doc = result.to_dict()
    assert [s["voted"] for s in doc["samples"]] == [False, True, True, False, True]
    assert all((s["why_not"] is None) == s["voted"] for s in doc["samples"])
    assert all(isinstance(s["confidence"], float) for s in doc["samples"])


def test_a_length_cut_answer_never_wins_over_a_finished_one():
    cut = path(filler(40, 9.0), words("The answer is 5. " + "And more " * 40, 9.0))
    finished = path(filler(40, 1.0), words("The answer is 4.", 1.0))
    for order in ([cut, cut, finished], [finished, cut, cut]):
        _, result = run_vote(order, 3, max_answer=30)
        chosen = result.samples[result.chosen]
        assert chosen.answer_end == "stop" and chosen.extracted == "4"
        assert {s.why_not for s in result.samples if s.answer_end == "length"} == {"answer cut by the length limit"}


def test_when_no_path_can_be_trusted_they_all_vote():
    cut = path(filler(40, 2.0), words("The answer is 5. " + "And more " * 40, 2.0))
    _, result = run_vote([cut], 2, max_answer=30)
    assert all(s.voted for s in result.samples) and result.votes == {"5": 4.0}


def test_the_least_confident_are_filtered_before_the_vote():
    paths = [path(filler(40, c), words(f"The answer is {a}.", c)) for a, c in
             [("4", 5.0), ("4", 5.0), ("7", 1.0), ("7", 0.9), ("7", 0.95), ("4", 5.0), ("7", 1.1), ("7", 1.2)]]
    _, result = run_vote(paths, 8)  # 90% of 8 keeps 7: the weakest "7" goes
    assert sum(s.voted for s in result.samples) == 7
    assert [s.why_not for s in result.samples].count("less confident than the 90% that vote") == 1
    assert result.samples[3].why_not is not None
    assert result.samples[result.chosen].extracted == "4"


def test_a_single_path_holds_no_vote():
    _, result = run_vote(TABLE[1:2], 1, selection="single")
    assert result.samples[0].voted is None and result.samples[0].why_not is None


# -- the two-stage prompted format ------------------------------------------------

from thinkcli.reasoning import ANSWER_TRIGGER, PROMPTED_INSTRUCTION  # noqa: E402
from thinkcli.turn.prompt import build_prompt  # noqa: E402

STEPWISE = FORMATS["stepwise"]


def stepwise(scripts: list, *, think: int = 100, min_think: int = 0, samples: int = 1) -> tuple:
    selection = "single" if samples == 1 else "vote"
    plan = Plan("t", selection, samples, Budget(think=think, min_think=min_think, max_answer=64), True,
                Sampling(0.6, 0.95, 20), 7)
    engine = FakeEngine(scripts)
    events = list(run_events(Run(engine, list(HANA), plan, STEPWISE)))
    return engine, events[-1].result


def test_stepwise_prompt_opens_the_reasoning_without_an_instruction():
    prompt, starts = build_prompt(FakeEngine([[]]), STEPWISE, HANA, thinking=True)
    assert prompt.endswith("<|im_start|>assistant\n" + STEPWISE.opener) and starts
    assert PROMPTED_INSTRUCTION not in prompt and "<think>" not in prompt
    plain, starts = build_prompt(FakeEngine([[]]), STEPWISE, HANA, thinking=False)
    assert not plain.endswith(STEPWISE.opener) and not starts


def test_stepwise_injects_the_trigger_when_the_model_stops_and_takes_one_line():
    engine, result = stepwise([["Hana", " has", " 9", " and", " 8", ".", EOG, " 17", ".", "\n", "Next", " problem"]])
    sample = result.samples[0]
    assert engine.batches[0].injected == [(0, "\n" + ANSWER_TRIGGER)]
    assert result.reasoning == "Hana has 9 and 8." and result.answer == "17."
    assert (sample.think_end, sample.answer_end, sample.extracted) == ("stop", "stop", "17")
    assert sample.answer_tokens == 3 and 0 in engine.batches[0].stopped


def test_stepwise_budget_end_injects_wrap_up_and_trigger():
    engine, result = stepwise([[" step"] * 20 + [EOG]], think=5)
    injected = engine.batches[0].injected[0][1]
    assert injected.endswith(ANSWER_TRIGGER) and "Time is up" in injected
    assert result.samples[0].think_end == "budget" and result.samples[0].thinking_tokens == 5


def test_stepwise_model_writing_the_trigger_itself_closes_the_reasoning():
    engine, result = stepwise([["9", " + 8", ". ", "Therefore", ", the final answer is", " 17", EOG]])
    assert engine.batches[0].injected == []
    assert result.answer == "17" and result.samples[0].think_end == "stop"


def test_stepwise_min_think_keeps_the_model_thinking():
    engine, result = stepwise([["Hmm", ".", EOG, " more", " steps", EOG, " 17", EOG]], min_think=4)
    injected = [text for _, text in engine.batches[0].injected]
    assert injected[0] == "\nWait," and injected[-1] == "\n" + ANSWER_TRIGGER
    assert result.samples[0].thinking_tokens >= 4 and result.answer == "17"


def test_stepwise_answers_vote():
    scripts = [[" a", EOG, " 17", "."], [" b", EOG, " 17", "."], [" c", EOG, " 16", "."]]
    _, result = stepwise(scripts, samples=3)
    assert result.votes.keys() == {"17", "16"} and result.samples[result.chosen].extracted == "17"


def test_stepwise_answer_line_starts_at_its_first_word():
    _, result = stepwise([["step", EOG, ":", "\n", "18", " marbles", "\n", "more"]])
    assert result.answer == "18 marbles" and result.samples[0].extracted == "18"
