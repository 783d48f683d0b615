"""The one capacity planner: what to load, how many questions at once, and each run's budgets.

Every command asks it the same way, so a level spends the same budget in ``ask``,
``chat`` and ``batch``, locally and on a server, wherever the context allows. It
reads two limits from what the engine says it is (``ModelInfo``):

- positions: one path may not run past what the model was trained on (locally), or
  past the server's context per request;
- cells: locally all paths of all questions share one KV cache of ``n_ctx`` cells
  (a question's prompt is stored once for its paths). A server has no such limit here.

Positions are per sequence, so a context of more cells than the model's trained
length holds several full-length paths side by side without running any past it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from thinkcli.config import EffortPreset, Settings
from thinkcli.engine import ModelInfo, Sampling
from thinkcli.errors import ContextOverflowError
from thinkcli.turn import Budget, Plan, paths_at_once

ANSWER_RESERVE = 256  # answer tokens each path keeps when its thinking budget is cut
PATH_MARGIN = 64  # a path's wrap-up, close tag and slack
PROMPT_ALLOWANCE = 1024  # prompt tokens a level's context is sized for before the prompt is known
MIN_CTX = 8192
MAX_SIZED_CTX = 32768  # the largest context sized unasked (its memory grows with it)
PARALLEL_MOST = 4  # questions at once by default: about 1.4x the tokens per second of one on a CPU
MIN_THINK = 16  # a budget cut below this is no room to think
ESTIMATE_MARGIN = 0.9  # where token counts are estimates (a server that will not tokenize), a tenth is kept back


@dataclass(frozen=True, slots=True)
class Capacity:
    """What an engine is loaded with: sequences for paths at once, and a context of cells."""

    seqs: int
    ctx: int


def path_need(level: EffortPreset) -> int:
    """Tokens one path of ``level`` may add past its prompt at full budget."""
    return level.think_budget + ANSWER_RESERVE + PATH_MARGIN


def question_need(level: EffortPreset, prompt: int = PROMPT_ALLOWANCE) -> int:
    """Cells one question of ``level`` takes at full budget: its prompt once, then its paths."""
    return prompt + paths_at_once(level.selection, level.samples) * path_need(level)


def capacity(levels: Iterable[EffortPreset], *, questions: int = 1, seqs: int = 1) -> Capacity:
    """What to load for ``questions`` at once of any of ``levels``: every path at full budget,
    in at least ``MIN_CTX`` and at most ``MAX_SIZED_CTX`` cells (``--ctx`` overrides it), and
    at least ``seqs`` sequences."""
    levels = list(levels)
    need = max(questions * question_need(level) for level in levels)
    most = max(paths_at_once(level.selection, level.samples) for level in levels) * questions
    return Capacity(max(seqs, most), max(MIN_CTX, min(MAX_SIZED_CTX, -(-need // 1024) * 1024)))


def questions_at_once(level: EffortPreset, info: ModelInfo, seqs: int, asked: int | None, parallel: int) -> int:
    """How many questions of ``level`` decode together.

    ``asked`` (``--parallel``) wins. Otherwise as many as keep every path's full budget,
    up to ``PARALLEL_MOST`` and the sequences there are; on a server, enough to keep its
    ``parallel`` requests busy.
    """
    if asked:
        return asked
    paths = paths_at_once(level.selection, level.samples)
    if not info.shared_context:
        return max(1, -(-parallel // paths))
    fits = info.n_ctx // question_need(level)
    return max(1, min(PARALLEL_MOST, fits, seqs // paths))


def make_plan(
    settings: Settings, level: EffortPreset, info: ModelInfo, *, prompt_tokens: int, wrap_up: int,
    temperature_given: bool, notice: Callable[[str, str], None], questions: int = 1,
) -> Plan:
    """Turn ``level`` into budgets that fit, and sampling with a seed.

    Args:
        settings: the merged settings (temperature, seed, answer limit, vote options).
        level: the effort level, overrides applied.
        info: what the engine says its context is.
        prompt_tokens: the prompt's length.
        wrap_up: tokens the wrap-up and close tag take.
        temperature_given: ``--temperature`` was set, so the level's own does not apply.
        notice: told ``(what, text)`` when the plan differs from what was asked; the caller
            says each ``what`` once per session.
        questions: questions decoding side by side, each with its share of the cells.

    Raises:
        ContextOverflowError: the prompt, or the paths on it, do not fit.
    """
    temperature = settings.temperature
    if level.temperature is not None and not temperature_given:
        temperature = level.temperature
    if level.samples > 1 and temperature <= 0:
        notice("temperature", f"temperature 0 makes all {level.samples} paths the same; sampling at 0.6 instead")
        temperature = 0.6
    paths = paths_at_once(level.selection, level.samples)
    room, where = path_room(info, prompt_tokens, paths=paths, questions=questions)
    if room <= paths:
        raise ContextOverflowError(
            f"the prompt is {prompt_tokens} tokens but {where} (shorten the input or raise --ctx)")
    think = level.think_budget
    if think > 0 and think + wrap_up + ANSWER_RESERVE > room:
        think = room - wrap_up - ANSWER_RESERVE
        if think < MIN_THINK:
            raise ContextOverflowError(f"{where}, which leaves no room to think for {paths} path(s); "
                                       "raise --ctx or lower --samples")
        per = " per path" if paths > 1 else ""
        notice(f"budget {level.name}",
               f"-e {level.name}: thinking budget cut from {level.think_budget} to {think} tokens{per}: {where}")
    used = (think + wrap_up) if think > 0 else 0
    max_answer = min(settings.max_tokens, max(16, room - used))  # no path runs past its room
    budget = Budget(think=think, min_think=min(level.min_think, think), max_answer=max_answer,
                    wrap_up=settings.wrap_up, continuations=settings.continuations)
    return Plan(
        effort=level.name, selection=level.selection, samples=level.samples, budget=budget, thinking=think > 0,
        sampling=Sampling(temperature, settings.top_p, settings.top_k),
        seed=settings.seed if settings.seed is not None else random.randrange(2**31),
        keep=settings.vote_keep, confidence=settings.vote_confidence,
        format=level.reasoning_format, settle=level.settle, origin=level.origin,
    )


def positions(info: ModelInfo) -> int:
    """How long one sequence may grow, prompt included: what the model was trained on (and no
    more than the cells there are), or a server's context per request."""
    if info.shared_context:
        return min(info.n_ctx_train or info.n_ctx, info.n_ctx)
    return info.n_ctx


def path_room(info: ModelInfo, prompt_tokens: int, *, paths: int, questions: int = 1) -> tuple[int, str]:
    """Tokens each path may add past the prompt, and the limit that sets it, in words."""
    limit = positions(info)
    room = limit - prompt_tokens
    if not info.exact_counts:
        room = int(room * ESTIMATE_MARGIN)
    where = (f"{info.name}'s context is {limit} tokens (what it was trained on)" if info.shared_context
             else f"the server's context is {limit} tokens per request")
    if info.shared_context:
        cells = (info.n_ctx // questions - prompt_tokens) // paths
        if cells < room:
            shared = f" shared by {questions} questions" if questions > 1 else ""
            room, where = cells, f"the context holds {info.n_ctx} tokens{shared} for {paths * questions} path(s)"
    return room, where


def note_context(asked: int | None, info: ModelInfo, notice: Callable[[str, str], None]) -> None:
    """Say when ``--ctx`` was not taken as given."""
    if asked is not None and info.n_ctx != asked:
        notice("ctx", f"--ctx {asked} became {info.n_ctx} tokens (llama.cpp's limits)")
