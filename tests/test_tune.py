"""``thinkcli tune``: its replayed votes, frontier, statistics and profiles, behind the scripted engine."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from thinkcli.config import DEFAULT_EFFORTS, DIRECT_EFFORTS, EffortPreset, Settings
from thinkcli.engine import Sampling
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.events import Done, SampleResult
from thinkcli.reasoning import FORMATS
from thinkcli.turn import Budget, Plan, Run
from thinkcli.turn import events as run_events
from thinkcli.tune.frontier import choose, cross_validate, frontier, race
from thinkcli.tune.grid import Arm, Point, adaptive_paths, chosen_path, default_grid, points
from thinkcli.tune.measure import Store, arm_key
from thinkcli.tune.profile import Profile, Profiles, levels_for
from thinkcli.tune.stats import mcnemar, verdict

USER = [{"role": "user", "content": "How many apples are left?"}]


def path(answer: str | None, confidence: float, *, think: int = 0, tokens: int = 10, think_end: str = "none") -> list:
    """A scripted path whose every token has ``confidence``."""
    pieces = [("x", -0.1, confidence)] * think
    if think:
        pieces.append(("</think>", -0.1, confidence))
    pieces += [("y ", -0.1, confidence)] * max(0, tokens - 1)
    pieces.append((f"The answer is {answer}." if answer else "I do not know", -0.1, confidence))
    return pieces + [EOG]


def run_strategy(scripts, selection: str, samples: int, *, thinking: bool = False, settle: float | None = None):
    engine = FakeEngine(scripts)
    plan = Plan("t", selection, samples, Budget(think=200 if thinking else 0), thinking, Sampling(0.6, 0.95, 20), 7,
                settle=settle)
    run = Run(engine, list(USER), plan, FORMATS["prompted"])
    events = list(run_events(run))
    assert isinstance(events[-1], Done)
    return events[-1].result


# -- the replayed vote is the strategies' own -------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_a_replayed_vote_chooses_what_the_vote_strategy_chose(seed):
    rng = random.Random(seed)
    scripts = [path(rng.choice(["4", "5", "6", None]), rng.uniform(0.5, 3.0), tokens=rng.randint(2, 8))
               for _ in range(7)]
    result = run_strategy(scripts, "vote", 7)
    decided = [s for s in result.samples if s.answer_end == "decided"]
    if decided:  # the live vote stopped paths that could not change the winner: same answer, fewer voters
        replayed = chosen_path(result.samples, thinking=False, keep=0.9)
        assert result.samples[replayed].extracted == result.samples[result.chosen].extracted
        return
    assert chosen_path(result.samples, thinking=False, keep=0.9) == result.chosen


def test_the_first_k_paths_replay_a_k_path_vote():
    scripts = [path(a, c) for a, c in [("4", 1.0), ("5", 2.5), ("5", 2.4), ("4", 1.1), ("4", 1.2)]]
    three = run_strategy(scripts, "vote", 3)
    five = run_strategy(scripts, "vote", 5)
    assert three.samples[three.chosen].extracted == "5"
    assert chosen_path(five.samples[:3], thinking=False, keep=0.9) == three.chosen


@pytest.mark.parametrize("settle", [0.6, 0.85, 0.95])
def test_replayed_adaptive_effort_decodes_as_many_paths_as_the_strategy(settle):
    rng = random.Random(int(settle * 100))
    scripts = [path(rng.choice(["4", "4", "5", "6"]), 1.0 + rng.random()) for _ in range(8)]
    live = run_strategy(scripts, "adaptive", 8, settle=settle)
    every = run_strategy(scripts, "vote", 8).samples
    assert adaptive_paths(every, 8, settle=settle, thinking=False, keep=0.9) == len(live.samples)


def test_points_of_an_arm_cover_votes_verification_and_adaptive_effort():
    arm = Arm("direct", 16, verify=5)
    paths = [SampleResult(answer=f"The answer is {a}.", extracted=a, answer_tokens=10, confidence=1.0,
                          verify_p=0.9 if a == "4" else 0.1)
             for a in ["5", "4", "5", "4", "4"] + ["4"] * 11]
    found = points(arm, [paths, None, []], ["4", "4", "4"], keep=1.0, temperature=0.6)
    labels = [p.label for p in found]
    assert labels[:6] == ["direct, 1 path", "direct, 3 votes", "direct, 5 votes", "direct, 9 votes",
                          "direct, 16 votes", "direct, 5 votes, verified"]
    assert sum(p.adaptive for p in found) == 4
    one, three = found[0], found[1]
    assert one.correct == (False, None, False) and three.correct == (False, None, False)
    assert found[2].correct[0] is True and found[2].tokens[0] == 50  # 4 beats 5, three to two
    assert one.preset == EffortPreset("direct", 0, 0, 1, "single", 0.6)
    assert found[5].preset.selection == "vote+verify" and found[5].correct[0] is True


def test_the_default_grid_reuses_each_smaller_budget():
    arms = default_grid()
    assert [a.name for a in arms] == ["greedy", "direct", "think@128", "think@512", "think@2048", "stepwise@512"]
    assert [a.reuse for a in arms[2:5]] == [None, "think@128", "think@512"] and arms[4].verify == 4
    assert arms[0].preset().temperature == 0.0 and arms[-1].preset().reasoning_format == "stepwise"


# -- frontier, levels, cross-validation, racing ----------------------------------------


def point(label: str, accuracy: float, tokens: int, *, n: int = 40, samples: int = 1, think: int = 0,
          selection: str | None = None, shift: int = 0) -> Point:
    right = round(accuracy * n)
    correct = tuple(((i + shift) % n) < right for i in range(n))
    chosen = selection or ("single" if samples == 1 else "vote")
    return Point(label, label, EffortPreset(label, think, 0, samples, chosen), correct, (tokens,) * n)


def test_the_frontier_keeps_only_points_no_cheaper_point_matches():
    every = range(40)
    pts = [point("a", 0.2, 100), point("b", 0.3, 300), point("c", 0.25, 400), point("d", 0.5, 900)]
    assert [p.label for p in frontier(pts, every)] == ["a", "b", "d"]


def test_levels_rise_in_compute_and_never_fall_in_accuracy():
    pts = [point("greedy", 0.15, 250), point("one", 0.1, 130), point("v3", 0.3, 400, samples=3),
           point("v5", 0.4, 650, samples=5), point("v9", 0.45, 1200, samples=9), point("v16", 0.47, 2100, samples=16),
           point("think", 0.05, 900, samples=4, think=512),
           point("ad-cheap", 0.3, 500, samples=16, selection="adaptive"),
           point("ad-good", 0.4, 600, samples=16, selection="adaptive")]
    levels = choose(pts, range(40))
    assert levels["none"].label == "greedy" and levels["max"].label == "v16"
    assert levels["high"].label == "v5"  # v9 and v16 are within one standard error of v16
    order = ["none", "low", "medium", "high", "max"]
    tokens = [levels[n].mean_tokens(range(40)) for n in order]
    accuracy = [levels[n].accuracy(range(40)) for n in order]
    assert tokens == sorted(tokens) and accuracy == sorted(accuracy)
    assert levels["auto"].label == "ad-good"  # the cheapest adaptive point as accurate as high
    dear = [p for p in pts if p.label != "ad-good"] + [point("ad-dear", 0.4, 800, samples=16, selection="adaptive")]
    assert choose(dear, range(40))["auto"].label == "v5"  # no adaptive point is cheaper than high: high


def test_none_is_greedy_unless_a_sampled_path_does_better():
    greedy = replace(point("greedy", 0.2, 150), preset=EffortPreset("greedy", 0, 0, 1, "single", 0.0))
    assert choose([greedy, point("one", 0.2, 50)], range(40))["none"].label == "greedy"
    assert choose([greedy, point("one", 0.25, 50)], range(40))["none"].label == "one"


def test_when_nothing_beats_none_every_level_is_none_and_auto_is_high():
    pts = [point("greedy", 0.3, 200), point("v5", 0.2, 600, samples=5)]
    levels = choose(pts, range(40))
    assert {p.label for p in levels.values()} == {"greedy"}


def test_cross_validation_chooses_without_the_held_out_problem():
    pts = [point("greedy", 0.2, 200), point("v5", 0.5, 600, samples=5)]
    picks = cross_validate(pts, list(range(40)), 5)
    assert all(k is not None for k in picks["high"]) and set(picks["high"]) == {1}


def test_race_drops_a_clearly_beaten_arm_and_never_greedy():
    strong = point("direct", 0.5, 500, n=24)
    weak = point("think", 0.0, 900, n=24, think=128)
    worse = point("greedy", 0.0, 600, n=24)
    assert race({"direct": [strong], "think": [weak], "greedy": [worse]}, range(8)) == {}  # too early
    dropped = race({"direct": [strong], "think": [weak], "greedy": [worse]}, range(24))
    assert set(dropped) == {"think"} and "lost to direct" in dropped["think"]
    cheap_weak = point("think", 0.0, 100, n=24, think=128)  # cheaper than anything that beats it: kept
    assert race({"direct": [strong], "think": [cheap_weak]}, range(24)) == {}


# -- statistics ---------------------------------------------------------------------


def test_mcnemar_is_exact_on_the_disagreements():
    x = [True] * 6 + [False] * 2 + [True] * 10
    y = [False] * 6 + [True] * 2 + [True] * 10
    test = mcnemar(x, y)
    assert (test.wins, test.losses) == (6, 2)
    assert math.isclose(test.p, sum(math.comb(8, i) for i in range(6, 9)) / 2**8)
    assert verdict(mcnemar([True] * 3, [False] * 3)).startswith("too few problems to tell")
    assert verdict(mcnemar([True] * 9, [False] * 9)).startswith("beats none (p=0.002")
    assert verdict(mcnemar([True] * 5 + [False] * 4, [False] * 5 + [True] * 4)).startswith("not shown to beat none")


# -- measurements and profiles ----------------------------------------------------------


def test_the_store_keeps_measurements_across_a_torn_line(tmp_path):
    store = Store(tmp_path / "m.jsonl")
    store.put("a", [SampleResult(answer="x" * 5000, extracted="4", answer_tokens=3, verify_p=0.7)], generated=3)
    with (tmp_path / "m.jsonl").open("a") as f:
        f.write('{"key": "torn", "paths": [')
    store.put("b", None, error="too long")
    again = Store(tmp_path / "m.jsonl")
    assert len(again) == 2 and again.get("b") == [] and again.get("torn") is None
    kept = again.get("a")[0]
    assert kept.extracted == "4" and kept.verify_p == 0.7 and len(kept.answer) == 2000


def test_the_measurement_key_changes_with_what_changes_the_paths():
    arm = Arm("direct", 16)
    base = arm_key(arm, Settings())
    assert arm_key(arm, Settings(temperature=0.8)) != base and arm_key(arm, Settings(max_tokens=99)) != base
    assert arm_key(Arm("greedy", 1, greedy=True), Settings(temperature=0.8)) == arm_key(
        Arm("greedy", 1, greedy=True), Settings())
    assert arm_key(arm, Settings(effort="high")) == base


def test_a_profile_round_trips_and_says_where_it_came_from(tmp_path):
    profiles = Profiles(tmp_path)
    levels = {"none": EffortPreset("none", 0, 0, 1, "single", 0.0),
              "auto": EffortPreset("auto", 0, 0, 16, "adaptive", settle=0.75, reasoning_format="stepwise")}
    profiles.save(Profile("abc", "m", "2026-12-04", 40, "mixed.jsonl", levels, [{"level": "none"}]))
    loaded = profiles.load("abc")
    assert loaded.levels == levels and loaded.origin == "tuned on 40 problems on 2026-12-04"
    assert loaded.levels["auto"].origin == loaded.origin and profiles.any()
    (tmp_path / "bad.json").write_text("{")
    assert profiles.load("bad") is None and "not a readable profile" in profiles.warnings[0]
    assert profiles.remove("abc") and not profiles.remove("abc")


def test_levels_come_from_the_profile_the_kind_or_the_config(tmp_path):
    mine = replace(DEFAULT_EFFORTS["high"], samples=7, origin="config file")
    settings = Settings(efforts={**DEFAULT_EFFORTS, "high": mine}, custom_efforts=frozenset({"high"}))
    assert levels_for(settings, native=False, profile=None).efforts["low"] == DIRECT_EFFORTS["low"]
    assert levels_for(settings, native=True, profile=None).efforts["low"] == DEFAULT_EFFORTS["low"]
    unknown = levels_for(settings, native=None, profile=None).efforts["low"]
    assert unknown == DEFAULT_EFFORTS["low"] and "template is unknown" in unknown.origin
    profile = Profile("k", "m", "2026-12-04", 40, "f", {"low": EffortPreset("low", 0, 0, 3, "vote")})
    tuned = levels_for(settings, native=True, profile=profile).efforts
    assert tuned["low"].samples == 3 and tuned["high"] is mine  # the config's level stays the user's


def test_a_file_is_hashed_once_and_a_known_digest_is_trusted(tmp_path, monkeypatch):
    import thinkcli.tune.profile as profile_module

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 100)
    calls = []
    real = profile_module._sha256
    monkeypatch.setattr(profile_module, "_sha256", lambda p: calls.append(p) or real(p))
    profiles = Profiles(tmp_path / "profiles")
    first = profiles.file_key(model)
    assert profiles.file_key(model) == first and len(calls) == 1
    model.write_bytes(b"GGUF" + b"\1" * 100)  # changed: hashed again
    assert profiles.file_key(model) != first and len(calls) == 2
    other = tmp_path / "n.gguf"
    other.write_bytes(b"x")
    assert profiles.file_key(other, known="feed") == "feed" and len(calls) == 2
