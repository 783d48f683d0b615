"""One reasoning path: tags its tokens and enforces its thinking budget.

``Sample.feed`` takes each token of its sequence, splits it into reasoning and
answer, and steers the sequence: it closes thinking when the budget runs out or
the thinking goes round in a loop, rejects a close before ``min_think`` (rewinding
the tag and thinking on), and stops the sequence when the answer ends or loops.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from thinkcli.engine import Batch, Token
from thinkcli.events import AnswerEnd, SampleResult, Text, ThinkEnd, ThinkingDone
from thinkcli.reasoning import ReasoningFormat
from thinkcli.answers import extract_answer
from thinkcli.turn.loops import ANSWER_WINDOW, COUNTING_WINDOW, WINDOW, LoopDetector
from thinkcli.vote import RunningConfidence, trace_confidence

ROOM_MARGIN = 8  # tokens kept free so a forced close always fits in the context
MAX_STALLS = 4  # early stops in a row, with nothing written between, before min_think gives way


@dataclass(frozen=True, slots=True)
class Budget:
    """The thinking rules one sample follows.

    Args:
        think: thinking tokens allowed before thinkcli closes the thinking.
        min_think: thinking tokens required before the model may close it.
        max_answer: answer tokens allowed.
        wrap_up: injected before the close tag when the budget runs out.
        continuations: injected (in turn) when the model closes too early.
    """

    think: int
    min_think: int = 0
    max_answer: int = 2048
    wrap_up: str = "\n\nTime is up. I have to give my final answer now.\n"
    continuations: tuple[str, ...] = ("Wait,",)


class Sample:
    """The state of one sequence of a batch.

    Args:
        index: the path's number in its run (events carry it).
        fmt: the reasoning format (tags, close text, parser).
        budget: the thinking rules.
        starts_in_thinking: the prompt already opened the thinking.
        started: ``time.perf_counter()`` at the start of the run.
        numeric: the question asks for a number (see ``extract_answer``).
        measure: how the trace's token confidences make its confidence (see ``trace_confidence``).
        seq: the sequence it decodes on in the batch (default: ``index``).
    """

    def __init__(
        self, index: int, *, fmt: ReasoningFormat, budget: Budget, starts_in_thinking: bool, started: float,
        numeric: bool = False, measure: str = "lowest", seq: int | None = None,
    ) -> None:
        self.index = index
        self.seq = index if seq is None else seq
        self._fmt = fmt
        self._budget = budget
        self._starts = starts_in_thinking
        self._started = started
        self._parser = fmt.parser(starts_in_thinking)
        self._raw = ""  # everything the parser has seen
        # What the model's context holds of the thinking, in order: (raw start, raw end,
        # tokens, generated tokens) for each generated token and each injected text.
        self._marks: list[tuple[int, int, int, int]] = []
        self._stalls = 0  # early stops in a row with nothing written since the last injection
        self._confidences: list[float] = []  # token confidences of the trace, reasoning and answer
        self._loops = LoopDetector()  # sees the generated text since thinkcli last steered the path
        self._waits = 0
        self.numeric = numeric
        self.measure = measure
        self.confidence = RunningConfidence()  # online: adaptive effort prunes on its current window
        self.reasoning = ""
        self.answer = ""
        self.thinking_tokens = 0
        self.answer_tokens = 0
        self.think_end: ThinkEnd = "none"
        self.answer_end: AnswerEnd = "stop"
        self.done = False
        self.thought_s = 0.0
        self._announced = False  # ThinkingDone was emitted
        self._answer_line_done = False  # a two-stage format's answer line has ended
        self.verify_p: float | None = None  # the verifier's P(true), when it ran

    @property
    def thinking(self) -> bool:
        """Text the model writes now is reasoning."""
        return self._parser.in_reasoning

    def feed(self, token: Token, batch: Batch) -> list[Text | ThinkingDone]:
        """Take one token of this sequence and steer the sequence; returns what to show."""
        if self.done:
            return []
        if token.eog:
            return self._on_end(batch) if self.thinking else self._finish(batch, "stop")
        self.confidence.add(token.confidence)
        self._confidences.append(token.confidence)
        was_thinking, was_closed = self.thinking, self._parser.reasoning_closed
        before = len(self._raw)
        segments = self._feed_parser(token.text)
        closed_now = self._parser.reasoning_closed and not was_closed
        thinking = was_thinking or self.thinking or closed_now
        if thinking:
            self.thinking_tokens += 1
            self._marks.append((before, len(self._raw), 1, 1))
            if closed_now and self.thinking_tokens < self._budget.min_think and not self._stalled(self._tag_at(before)):
                return self._reject_close(batch, before)
        if closed_now:
            self._mark_thought("stop", batch)
            self._loops.reset()  # an answer that copies out lines its thinking drafted is no loop
        out = self._emit(segments)
        # An answer gets a longer window, unless its thinking already went round in a loop,
        # and may count as long as it likes.
        self._loops.window = WINDOW if thinking or self.think_end == "loop" else ANSWER_WINDOW
        self._loops.counting_window = COUNTING_WINDOW if thinking else 0
        looping = self._loops.add(token.text)
        if thinking:
            if not closed_now and looping:
                return out + self._close_loop(batch, self._loops.repeats)
            if not closed_now and self.thinking_tokens >= self._budget.think:
                if repeats := self._loops.looping_now():  # the budget ran out in a loop
                    return out + self._close_loop(batch, repeats)
                return out + self._force_close(batch, "budget")
        else:
            self.answer_tokens += 1
            if looping:
                return out + self._finish(batch, "loop")
        if self._answer_line_done:
            return out + self._finish(batch, "stop")
        if not thinking:
            if not self.answer.strip():
                batch.forbid_end(self.seq)  # blank so far: the answer has not started
            if self.answer_tokens >= self._budget.max_answer:
                return out + self._finish(batch, "length")
        if batch.room(self.seq) <= ROOM_MARGIN + len(batch.live):
            if self.thinking:
                return out + self._force_close(batch, "length", wrap_up=False)
            return out + self._finish(batch, "length")
        return out

    def begin(self, batch: Batch) -> list[Text | ThinkingDone]:
        """Before the first token: a zero budget closes the thinking at once."""
        if self._starts and self._budget.think <= 0:
            return self._force_close(batch, "budget", wrap_up=False)
        return []

    # -- steering -------------------------------------------------------------

    def _tag_at(self, before: int) -> int:
        """Where the end tag that the token fed at raw offset ``before`` completed starts."""
        tag = self._raw.find(self._fmt.end_tag, max(0, before - len(self._fmt.end_tag)))
        return tag if tag >= 0 else before

    def _stalled(self, cut: int) -> bool:
        """The model keeps stopping right after a continuation word: let it stop.

        Progress means the model wrote something of its own between thinkcli's last
        injection and ``cut``; after ``MAX_STALLS`` stops in a row without any, the
        minimum is given up rather than spending the context on "Wait," alone.
        """
        last = next((m for m in reversed(self._marks) if m[1] <= cut), None)
        self._stalls = 0 if last is None or last[3] else self._stalls + 1
        return self._stalls > MAX_STALLS

    def _reject_close(self, batch: Batch, before: int) -> list[Text | ThinkingDone]:
        """The model closed its thinking before ``min_think``: rewind the tag and think on."""
        cut = self._tag_at(before)
        tokens = generated = 0
        start = cut
        while self._marks and self._marks[-1][1] > cut:
            start, _, n, gen = self._marks.pop()
            tokens += n
            generated += gen
        kept = self._raw[start:cut]
        batch.rewind(self.seq, tokens)
        self.thinking_tokens -= generated
        del self._confidences[len(self._confidences) - generated :]
        gap = "" if self._raw[:cut][-1:].isspace() else "\n"
        return self._replay(self._raw[:start], kept + gap + self._next_word(), batch)

    def _on_end(self, batch: Batch) -> list[Text | ThinkingDone]:
        """The model ended its turn while thinking: think on, or close and answer."""
        if self.thinking_tokens >= self._budget.min_think or self._stalled(len(self._raw)):
            return self._force_close(batch, "stop", wrap_up=False)
        if batch.room(self.seq) <= ROOM_MARGIN + len(batch.live):
            return self._force_close(batch, "length", wrap_up=False)
        text = "\n" + self._next_word()
        self._inject_thinking(batch, text)
        return self._emit(self._feed_parser(text))

    def _inject_thinking(self, batch: Batch, text: str) -> None:
        start = len(self._raw)
        self._marks.append((start, start + len(text), batch.inject(self.seq, text), 0))
        self._loops.reset()  # a repetition that spans thinkcli's own text is not the model's loop

    def _close_loop(self, batch: Batch, repeats: int) -> list[Text | ThinkingDone]:
        """The thinking goes round in a loop: as at a budget end, wrap up and answer.

        The loop's ``repeats`` (the tokens after its first cycle) are rewound first, so
        the answer is not written under a page of the same line. They still count as
        thinking spent, but neither the reasoning nor the path's confidence keeps them.
        """
        tokens = generated = 0
        cut, left = len(self._raw), repeats  # the detector counts tokens with text
        while self._marks and (left > 0 or self._marks[-1][0] == self._marks[-1][1]):
            cut, end, n, gen = self._marks.pop()  # an empty one holds bytes of the character after it
            left -= end > cut
            tokens += n
            generated += gen
        batch.rewind(self.seq, tokens)
        del self._confidences[len(self._confidences) - generated :]
        raw, self._raw, self.reasoning = self._raw[:cut], "", ""
        self._parser = self._fmt.parser(self._starts)
        self._feed_parser(raw, collect=True)
        return self._force_close(batch, "loop")

    def _force_close(self, batch: Batch, reason: ThinkEnd, *, wrap_up: bool = True) -> list[Text | ThinkingDone]:
        text = (self._budget.wrap_up if wrap_up else "\n") + self._fmt.close
        self._loops.reset()
        if batch.room(self.seq) <= batch.inject(self.seq, text):
            return self._finish(batch, "length")
        out = self._emit(self._feed_parser(text))
        self._mark_thought(reason, batch)
        return out

    def _replay(self, raw: str, extra: str, batch: Batch) -> list[Text | ThinkingDone]:
        """Rebuild the parser over ``raw + extra`` and show only what is new."""
        self._raw = raw  # so the injection is marked at the right offset
        self._inject_thinking(batch, extra)
        self._parser = self._fmt.parser(self._starts)
        self._raw = ""
        shown = self.reasoning
        self.reasoning = ""
        self._feed_parser(raw + extra, collect=True)
        new = self.reasoning[len(shown) :] if self.reasoning.startswith(shown) else self.reasoning
        return [self._text("reasoning", new)] if new else []

    def _next_word(self) -> str:
        words = self._budget.continuations or ("Wait,",)
        self._waits += 1
        return words[(self._waits - 1) % len(words)]

    def _mark_thought(self, reason: ThinkEnd, batch: Batch | None = None) -> None:
        self.think_end = reason
        self.thought_s = time.perf_counter() - self._started
        if batch is not None:
            batch.forbid_end(self.seq)  # an answer must follow the thinking

    def _finish(self, batch: Batch, reason: AnswerEnd) -> list[Text | ThinkingDone]:
        out = self._emit(self._parser.finish())
        if self.think_end == "none" and self.reasoning:
            self._mark_thought("length" if reason == "length" else "stop")
        if not self._announced and self.think_end != "none":
            out.append(self._thinking_done())
        self.answer_end = reason
        self.done = True
        batch.stop(self.seq)
        return out

    def prune(self, batch: Batch) -> None:
        """Stop a path whose confidence fell too low; it will not vote."""
        if not self.done:
            self.think_end = "pruned"
            self.done = True
            batch.stop(self.seq)

    def decide(self, batch: Batch) -> None:
        """Stop a path that can no longer change the vote's winner; it will not vote."""
        if not self.done:
            self._cut("decided")
            batch.stop(self.seq)

    def interrupt(self) -> None:
        """Ctrl-C: keep what there is."""
        if not self.done:
            self._cut("interrupted")

    def _cut(self, reason: AnswerEnd) -> None:
        """End the path where it is: what the parser holds back is kept, both ends say why."""
        self._emit(self._parser.finish())
        if self.think_end == "none" and self.reasoning:
            self.think_end = reason
        self.answer_end = reason
        self.done = True

    # -- text -----------------------------------------------------------------

    def _feed_parser(self, text: str, *, collect: bool = False) -> list[tuple[str, str]]:
        self._raw += text
        segments = self._parser.feed(text)
        if collect:
            self._emit(segments)
        return segments

    def _emit(self, segments: list[tuple[str, str]]) -> list[Text | ThinkingDone]:
        out: list[Text | ThinkingDone] = []
        for kind, text in segments:
            if kind == "reasoning":
                self.reasoning += text
            else:
                if not self._announced and (self.reasoning or self.think_end != "none"):
                    out.append(self._thinking_done())
                self._announced = True
                text = self._one_line(text)
                if not text:
                    continue
                self.answer += text
            out.append(self._text(kind, text))
        return out

    def _one_line(self, text: str) -> str:
        """A two-stage format's answer is the line after the trigger: cut ``text`` at its end.

        The line ends at the first line break after a letter or digit, so ``":\n18"``
        is the answer "18"; a colon that opens the answer is dropped.
        """
        if self._answer_line_done:
            return ""
        if not self._fmt.opener:
            return text
        start = 0
        if not any(c.isalnum() for c in self.answer):
            if not self.answer.strip():
                text = text.lstrip(": \t")
            start = next((i for i, c in enumerate(text) if c.isalnum()), -1)
            if start < 0:
                return text
        cut = text.find("\n", start)
        if cut < 0:
            return text
        self._answer_line_done = True
        return text[:cut]

    def _thinking_done(self) -> ThinkingDone:
        self._announced = True
        if self.think_end == "none":
            self._mark_thought("stop")
        return ThinkingDone(self.index, self.thinking_tokens, round(self.thought_s, 3), self.think_end)

    def _text(self, kind: str, text: str) -> Text:
        return Text(kind, text, self.index, self.thinking_tokens, time.perf_counter() - self._started, self._budget.think)

    @property
    def budget(self) -> int:
        """This path's thinking budget in tokens."""
        return self._budget.think

    def result(self) -> SampleResult:
        """What this path produced, with its confidence and extracted answer."""
        answer = self.answer.strip()
        return SampleResult(
            reasoning=self.reasoning.strip(),
            answer=answer,
            extracted=extract_answer(answer, numeric=self.numeric) if answer else None,
            thinking_tokens=self.thinking_tokens,
            answer_tokens=self.answer_tokens,
            confidence=round(trace_confidence(self._confidences, self.measure), 4),
            think_end=self.think_end,
            answer_end=self.answer_end,
            verified=None if self.verify_p is None else self.verify_p >= 0.5,
            verify_p=self.verify_p,
        )

