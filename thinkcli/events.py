"""The stream a strategy yields and a renderer draws: small frozen values.

A run yields ``Text`` segments (reasoning or answer) while one sample streams,
``Progress`` while several run at once, ``Explored`` when they have voted,
``Notice`` for things the user should know, and one final ``Done``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal, Union

Kind = Literal["reasoning", "answer"]
ThinkEnd = Literal["stop", "budget", "length", "loop", "interrupted", "pruned", "decided", "none"]
AnswerEnd = Literal["stop", "length", "loop", "interrupted", "decided"]


@dataclass(frozen=True, slots=True)
class Text:
    """A piece of one sample's reasoning or answer, as it streams."""

    kind: Kind
    text: str
    sample: int = 0
    thinking_tokens: int = 0
    elapsed_s: float = 0.0
    budget: int = 0  # the sample's thinking budget (0: none known)


@dataclass(frozen=True, slots=True)
class ThinkingDone:
    """A streaming sample stopped thinking; its answer follows."""

    sample: int
    tokens: int
    seconds: float
    reason: ThinkEnd


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one of several parallel samples stands."""

    sample: int
    thinking_tokens: int
    answer_tokens: int
    extracted: str | None
    done: bool
    elapsed_s: float
    budget: int = 0  # the path's thinking budget (0: none known)
    line: str = ""  # the end of the path's latest line of text, for a live glimpse


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know that is not part of the answer."""

    text: str


@dataclass(slots=True)
class SampleResult:
    """One reasoning path, finished."""

    reasoning: str = ""
    answer: str = ""
    extracted: str | None = None
    thinking_tokens: int = 0
    answer_tokens: int = 0
    confidence: float = 0.0
    think_end: ThinkEnd = "none"
    answer_end: AnswerEnd = "stop"
    verified: bool | None = None
    verify_p: float | None = None
    voted: bool | None = None  # None when no vote was held
    why_not: str | None = None  # why it did not vote


@dataclass(slots=True)
class Stats:
    """Counts and timings of one run (``--json`` ``stats``)."""

    prompt_tokens: int = 0
    prompt_eval_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens a cache held, so they were not evaluated
    answer_tokens: int = 0
    thinking_tokens: int = 0
    generated_tokens: int = 0
    load_s: float = 0.0
    ttft_s: float = 0.0
    wall_s: float = 0.0
    decode_tok_per_s: float = 0.0


@dataclass(slots=True)
class Result:
    """Everything a run produced; ``--json`` prints ``to_dict()``."""

    answer: str = ""
    reasoning: str = ""
    model: str = ""
    backend: str = "llama"  # where the model ran: "llama" (here) or "openai" (a server)
    vote_weights: str = "confidence"  # "majority" where the server gave no log-probabilities
    effort: str = ""
    samples: list[SampleResult] = field(default_factory=list)
    votes: dict[str, float] = field(default_factory=dict)
    chosen: int = 0
    interrupted: bool = False
    seed: int | None = None  # the seed sampling used (``--seed`` reproduces the run)
    levels: str = ""  # where the effort level came from: built in, a model's profile, the config file
    stats: Stats = field(default_factory=Stats)
    # Each path's TokenTrace (thinkcli.runlog.tokens), for the run log alone: never in ``to_dict``.
    tokens: list = field(default_factory=list, repr=False, compare=False)

    def to_dict(self) -> dict:
        data = asdict(replace(self, tokens=[]))
        del data["tokens"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        """The result ``to_dict`` wrote (keys it does not know are ignored)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        samples = [SampleResult(**{k: v for k, v in s.items() if k in SampleResult.__dataclass_fields__})
                   for s in known.get("samples") or []]
        stats = Stats(**{k: v for k, v in (known.get("stats") or {}).items() if k in Stats.__dataclass_fields__})
        return cls(**{**known, "samples": samples, "stats": stats})


@dataclass(frozen=True, slots=True)
class Explored:
    """Several samples ran and voted; the chosen answer follows."""

    samples: tuple[SampleResult, ...]
    chosen: int
    agree: int
    tokens: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Done:
    """The run is over."""

    result: Result


Event = Union[Text, ThinkingDone, Progress, Notice, Explored, Done]
