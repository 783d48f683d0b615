"""One question answered under one plan: the shared machinery every strategy uses.

``Run.explore`` opens several paths of the question and yields their events while
the scheduler (``thinkcli.scheduler``) decodes them, beside the paths of any other
run in the same batch; ``Run.verify`` checks an answer in a short extra pass;
``Run.result`` gathers what was spent. Strategies (``thinkcli.turn``) decide
how to use them. Both are generators that ask the scheduler with ``Open`` and
``STEP`` between their events.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Generator, Iterable, Iterator

from thinkcli.engine import Batch, Engine, Sampling
from thinkcli.events import Progress, Result, SampleResult, Stats, Text
from thinkcli.reasoning import ReasoningFormat, output_format
from thinkcli.scheduler import STEP, Open, Opened, Program, Scheduler
from thinkcli.turn.prompt import build_prompt
from thinkcli.turn.sample import Budget, Sample
from thinkcli.turn.traced import TracedSample
from thinkcli.answers import extract_answer, is_numeric_question
from thinkcli.vote import Ballot, VoteResult, keep_confident, vote, weight, why_not

PROGRESS_EVERY = 4  # decode steps between progress updates of parallel samples
PRUNE_AFTER = 64  # thinking tokens before a path can be pruned: its window confidence must mean something
VERIFY_PROMPT = "Is the final answer above correct? Reply with Yes or No."
VERIFY_YES = ("Yes", "yes", "YES", " Yes", " yes")
VERIFY_NO = ("No", "no", "NO", " No", " no")
VERIFY_FLOOR = math.log(1e-3)  # below this on both, the model is not answering the question


@dataclass(frozen=True, slots=True)
class Plan:
    """The compute one run may spend, resolved from an effort level and flags.

    Args:
        effort: the level's name, for output.
        selection: the strategy: ``single``, ``vote``, ``vote+verify`` or ``adaptive``.
        samples: paths to explore (for ``adaptive``, the most it may use).
        budget: the thinking rules of each path.
        thinking: whether the model thinks at all.
        sampling: temperature, top-p and top-k.
        seed: the first sample's seed; sample ``i`` uses ``seed + i``.
        keep: the most confident share of the trusted paths that votes (DeepConf's filter).
        confidence: how a path's token confidences make its confidence: ``lowest``,
            ``bottom10`` or ``tail`` (see ``thinkcli.vote.trace_confidence``).
        format: the reasoning format this level thinks in (None: the model's).
        settle: for ``adaptive``, how sure the leader must be to stop adding paths (None:
            the strategy's own threshold).
        origin: where the level came from (built in, a model's profile, the config file).
    """

    effort: str
    selection: str
    samples: int
    budget: Budget
    thinking: bool
    sampling: Sampling
    seed: int
    keep: float = 0.9
    confidence: str = "lowest"
    format: str | None = None
    settle: float | None = None
    origin: str = ""


class Run:
    """The state of answering one question; strategies drive it.

    Args:
        engine: the loaded model.
        messages: the conversation, ending with the user's question.
        plan: what to spend.
        fmt: the model's reasoning format. Prompts are always built with it (the
            template's own switch turns thinking off); with thinking off only the
            parser reads the output as all answer (see ``output_format``).
    """

    def __init__(
        self, engine: Engine, messages: list[dict], plan: Plan, fmt: ReasoningFormat, *,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.engine = engine
        self.sched = scheduler or Scheduler(engine, seqs=engine.n_seq_max)
        self.messages = messages
        self.plan = plan
        self.fmt = fmt
        self.output_fmt = output_format(fmt, plan.thinking)
        self.samples: list[Sample] = []
        question = messages[-1]["content"] if messages else ""
        self.numeric = is_numeric_question(question if isinstance(question, str) else "")
        self._why_not: dict[int, str | None] | None = None  # per path, once a vote was held
        self.stats = Stats(load_s=round(engine.info.load_s, 3))
        self.started = time.perf_counter()
        self._first: float | None = None
        self._last: float | None = None
        self._decided_at = 0  # finished samples when the vote was last checked for a decision

    def explore(
        self,
        n: int,
        *,
        budget: Budget | None = None,
        stream: bool = False,
        floor: float | None = None,
        stop_decided: bool = False,
        seeds: tuple[int, ...] | None = None,
    ) -> Program:
        """Decode ``n`` new samples together; yields their events (``Text`` when streaming).

        Args:
            n: how many samples.
            budget: their thinking rules (default: the plan's).
            stream: yield each sample's text as it comes (for one sample), else ``Progress``.
            floor: prune a sample whose running confidence falls below this (DeepConf online).
            stop_decided: stop the unfinished samples once they cannot change the vote's winner.
            seeds: their seeds (default: the plan's seed plus each one's index), so one path
                of an earlier run can be decoded again alone, under another budget.
        """
        prompt, starts = self.prompt(self.messages, thinking=self.plan.thinking)
        first = len(self.samples)
        seeds = seeds or tuple(self.plan.seed + first + i for i in range(n))
        opened: Opened = yield Open(prompt, n, self.plan.sampling, seeds)
        self.stats.prompt_tokens = opened.prompt_tokens
        batch = self.sched.batch
        group = {seq: self.new_sample(first + i, starts, budget, seq=seq) for i, seq in enumerate(opened.seqs)}
        self.samples += group.values()
        try:
            for sample in group.values():
                events = sample.begin(batch)
                if stream:
                    yield from events
            steps = 0
            while set(group) & set(batch.live):
                tokens = yield STEP
                self._count(len(tokens))
                for token in tokens:
                    events = group[token.seq].feed(token, batch)
                    if stream:
                        yield from events
                if floor is not None:
                    self._prune(group.values(), batch, floor)
                if stop_decided and set(group) & set(batch.live):
                    self._stop_decided(list(group.values()), batch)
                steps += 1
                if not stream and (steps % PROGRESS_EVERY == 0 or not set(group) & set(batch.live)):
                    yield from (self._progress(s.index, s) for s in group.values())
        finally:
            for sample in group.values():
                sample.interrupt()
            self.spent(opened, self.sched.release(opened.seqs))

    def spent(self, opened: Opened, reported: tuple[int, int] | None) -> None:
        """Add what the paths ``opened`` evaluated of their prompts, and took from a cache, to
        the stats: as the engine counted at the start, or as a server said at the end."""
        evaluated, cached = reported if reported is not None else (opened.evaluated, opened.cached)
        self.stats.prompt_eval_tokens += evaluated
        self.stats.cached_tokens += cached

    def new_sample(
        self, index: int, starts_in_thinking: bool, budget: Budget | None = None, *, seq: int | None = None
    ) -> Sample:
        """Path ``index`` of this run, decoding on sequence ``seq`` of the batch (default: ``index``)."""
        return TracedSample(index, fmt=self.output_fmt, budget=budget or self.plan.budget,
                            starts_in_thinking=starts_in_thinking, started=self.started, numeric=self.numeric,
                            measure=self.plan.confidence, seq=index if seq is None else seq)

    def prompt(self, messages: list[dict], *, thinking: bool) -> tuple[str, bool]:
        """The text decoded for ``messages`` under this plan, and whether it opened thinking."""
        return build_prompt(
            self.engine, self.fmt, messages, thinking=thinking, effort=self.plan.effort, budget=self.plan.budget.think
        )

    def _count(self, tokens: int) -> None:
        now = time.perf_counter()
        if self._first is None:
            self._first = now
            self.stats.ttft_s = round(now - self.started, 3)
        self._last = now
        self.stats.generated_tokens += tokens

    def _prune(self, group: Iterable[Sample], batch: Batch, floor: float) -> None:
        for sample in group:
            if not sample.done and sample.thinking and sample.thinking_tokens >= PRUNE_AFTER and sample.confidence.current < floor:
                sample.prune(batch)

    def _stop_decided(self, group: list[Sample], batch: Batch) -> None:
        """Stop the unfinished paths when even all of them together could not outvote the leader."""
        unfinished = [s for s in group if not s.done]
        finished = sum(s.done for s in self.samples)
        if not unfinished or finished == self._decided_at:
            return  # nothing new has finished since the last look
        self._decided_at = finished
        results = [s.result() for s in self.samples if s.done]
        ballots = [
            Ballot(r.extracted, r.confidence) for r in results
            if r.extracted and why_not(r, others_answered=True, thinking=self.plan.thinking) is None
        ]
        if not ballots:
            return
        # What one more path may weigh: no more than the surest trace so far, with room for a
        # trace's weakest stretch to grow as the trace does (see cannot_change_winner).
        most = max([weight(b) for b in ballots] + [max(s.result().confidence, 0.0) for s in unfinished])
        if cannot_change_winner(ballots, len(unfinished), most=most, keep=self.plan.keep):
            for sample in unfinished:
                sample.decide(batch)

    def _progress(self, index: int, sample: Sample) -> Progress:
        extracted = extract_answer(sample.answer, numeric=self.numeric) if sample.answer.strip() else None
        return Progress(
            index,
            sample.thinking_tokens,
            sample.answer_tokens,
            extracted,
            sample.done,
            round(time.perf_counter() - self.started, 2),
            sample.budget,
            _last_line(sample.answer or sample.reasoning),
        )

    def verify(self, answer: str) -> Generator[object, object, float | None]:
        """The model's own probability that ``answer`` is right (P(true), Kadavath et al. 2022).

        Asks, without thinking, whether the answer is correct and compares the mass of
        "Yes"-like and "No"-like first tokens; None when the model puts almost none on either.
        A generator (it asks the scheduler for one more path): ``p = yield from run.verify(a)``.
        """
        messages = [*self.messages, {"role": "assistant", "content": answer}, {"role": "user", "content": VERIFY_PROMPT}]
        prompt, _ = self.prompt(messages, thinking=False)
        opened: Opened = yield Open(prompt, 1, Sampling(temperature=0.0), (self.plan.seed,))
        try:
            yes, no = self.sched.batch.choice_logprobs(opened.seqs[0], [VERIFY_YES, VERIFY_NO])
        finally:
            self.spent(opened, self.sched.release(opened.seqs))
        if max(yes, no) < VERIFY_FLOOR:
            return None
        return round(1.0 / (1.0 + math.exp(no - yes)), 4)

    def voters(self) -> list[int]:
        """The paths that may vote (see ``voters``); records each path's reason."""
        kept, self._why_not = voters([s.result() for s in self.samples], thinking=self.plan.thinking,
                                     keep=self.plan.keep)
        return kept

    def tally(self) -> tuple[VoteResult, list[int]] | None:
        """Vote over the samples so far; None if no sample may vote."""
        indexes = self.voters()
        return tally([s.result() for s in self.samples], indexes)

    def result(self, chosen: int = 0, votes: dict[str, float] | None = None, *, interrupted: bool = False) -> Result:
        """Everything this run produced, with ``chosen`` as the answer."""
        samples: list[SampleResult] = [s.result() for s in self.samples]
        if self._why_not is not None:
            for i, sample in enumerate(samples):
                sample.why_not = self._why_not.get(i)
                sample.voted = i in self._why_not and sample.why_not is None
        stats = replace(
            self.stats,
            thinking_tokens=sum(s.thinking_tokens for s in samples),
            answer_tokens=sum(s.answer_tokens for s in samples),
            wall_s=round(time.perf_counter() - self.started, 3),
        )
        if self._first is not None and self._last is not None and self._last > self._first:
            stats.decode_tok_per_s = round(stats.generated_tokens / (self._last - self._first), 2)
        pick = samples[chosen] if samples else SampleResult()
        return Result(
            answer=pick.answer,
            reasoning=pick.reasoning,
            model=self.engine.info.name,
            backend=self.engine.info.backend,
            vote_weights="confidence" if self.engine.info.logprobs else "majority",
            effort=self.plan.effort,
            samples=samples,
            votes=votes or {},
            chosen=chosen,
            interrupted=interrupted,
            seed=self.plan.seed,
            stats=stats,
            tokens=[getattr(s, "trace", None) for s in self.samples],
            levels=self.plan.origin,
        )


def voters(results: list[SampleResult], *, thinking: bool, keep: float) -> tuple[list[int], dict[int, str | None]]:
    """The paths that may vote, and why each other path may not.

    A path is not trusted when ``thinkcli.vote.why_not`` says so; if no path is, every
    unpruned path votes rather than none. Of the trusted, the most confident ``keep``
    share votes (DeepConf's filter). Pure, so a vote can be replayed from stored paths.
    """
    answered = [bool(r.extracted) for r in results]
    reasons = {
        i: why_not(r, others_answered=any(answered[:i] + answered[i + 1 :]), thinking=thinking)
        for i, r in enumerate(results)
    }
    trusted = [i for i, reason in reasons.items() if reason is None]
    if not trusted:
        trusted = [i for i, r in enumerate(results) if r.think_end != "pruned"]
        reasons.update({i: None for i in trusted})
    confidences = [Ballot(None, results[i].confidence) for i in trusted]
    kept = [trusted[k] for k in keep_confident(confidences, keep)]
    for i in trusted:
        if i not in kept:
            reasons[i] = f"less confident than the {keep:.0%} that vote"
    return kept, reasons


def tally(results: list[SampleResult], indexes: list[int]) -> tuple[VoteResult, list[int]] | None:
    """The confidence-weighted vote of paths ``indexes`` (scaled by P(true) where verified);
    None when there are none."""
    if not indexes:
        return None
    ballots = [Ballot(results[i].extracted, results[i].confidence, results[i].verify_p) for i in indexes]
    return vote(ballots), indexes


GROWTH = 1.25  # how much a path's confidence may still grow: a trace's lowest window grew
# about 10% from 200 to 4,000 tokens in a simulation (its window widens with the trace)


def cannot_change_winner(ballots: list[Ballot], unfinished: int, *, most: float = 1.0, keep: float = 1.0) -> bool:
    """Whether the leading answer of ``ballots`` stays ahead however ``unfinished`` more paths vote.

    Each of them is counted as weighing up to ``most`` times ``GROWTH``, all for the
    runner-up. The vote keeps only the most confident ``keep`` share of the paths, so as
    many of the leader's weakest ballots as the filter may then drop are not counted.
    This assumes a path's confidence never ends above ``GROWTH`` times the surest so far.
    """
    votes = vote(ballots).votes if ballots else {}
    ranked = sorted(votes.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked:
        return False
    leader, lead = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    total = len(ballots) + unfinished
    dropped = total - max(1, math.floor(keep * total + 0.5))
    theirs = sorted(weight(b) for b in ballots if b.extracted is not None and vote([b]).leader == leader)
    lead -= sum(theirs[:dropped])
    return lead > runner_up + unfinished * most * GROWTH


def _last_line(text: str, limit: int = 80) -> str:
    """The end of the last non-empty line of ``text``, at most ``limit`` characters."""
    tail = text[-4 * limit :].rstrip()
    return tail.rsplit("\n", 1)[-1].strip()[-limit:]


def chosen_text(result: Result) -> Iterator[Text]:
    """The chosen answer as one ``Text`` event, for strategies that don't stream."""
    if result.answer:
        yield Text("answer", result.answer, result.chosen)
