"""A path that also keeps its ``TokenTrace``: each token's confidence and the text it wrote.

``TracedSample`` is a ``Sample`` that watches itself from outside: the texts and token
counts before and after each token, and what it injects into its batch (through a thin
wrapper), tell which text the model wrote, token by token, and which thinkcli wrote.
"""

from __future__ import annotations

from thinkcli.engine import Batch, Token
from thinkcli.events import SampleResult, Text, ThinkingDone
from thinkcli.turn.sample import Sample
from thinkcli.runlog.tokens import TokenTrace


class _Tap:
    """The batch as a sample sees it, noting where its text stood at each injection."""

    __slots__ = ("batch", "sample", "at")

    def __init__(self, batch: Batch, sample: Sample) -> None:
        self.batch = batch
        self.sample = sample
        self.at: tuple[int, int] | None = None  # text lengths at the first injection of this token

    def inject(self, seq: int, text: str) -> int:
        if self.at is None:
            self.at = (len(self.sample.reasoning), len(self.sample.answer))
        return self.batch.inject(seq, text)

    def __getattr__(self, name: str):
        return getattr(self.batch, name)


class TracedSample(Sample):
    """A ``Sample`` whose result carries its ``TokenTrace`` (see ``Sample`` for the arguments)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.trace = TokenTrace()
        self._tap: _Tap | None = None

    def _tapped(self, batch: Batch) -> _Tap:
        if self._tap is None or self._tap.batch is not batch:
            self._tap = _Tap(batch, self)
        self._tap.at = None
        return self._tap

    def _lengths(self) -> tuple[int, int]:
        return len(self.reasoning), len(self.answer)

    def begin(self, batch: Batch) -> list[Text | ThinkingDone]:
        out = super().begin(self._tapped(batch))
        self.trace.insert(*self._lengths())
        return out

    def feed(self, token: Token, batch: Batch) -> list[Text | ThinkingDone]:
        if self.done:
            return []
        before = self.thinking_tokens + self.answer_tokens
        tap = self._tapped(batch)
        out = super().feed(token, tap)
        after = self.thinking_tokens + self.answer_tokens
        now = self._lengths()
        if after == before + 1 and not token.eog:  # the token counts: its text up to any injection is its own
            self.trace.add(token.confidence, *(tap.at or now))
            self.trace.insert(*now)
        elif after <= before:  # a close was taken back: its tokens are gone, their text re-injected
            self.trace.drop(before - after)
            self.trace.insert(*now)
        elif tap.at is not None:
            self.trace.extend(*tap.at)
            self.trace.insert(*now)
        else:
            self.trace.extend(*now)
        return out

    def result(self) -> SampleResult:
        self.trace.keep(self.reasoning, self.answer)
        return super().result()
