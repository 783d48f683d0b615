"""Several paths on a remote server: one streamed completion request per path.

A path is its prompt plus the text generated or injected since. Each path runs
as one streaming ``/completions`` request in a thread that feeds a shared queue;
``step`` hands out at most one token per path, so the strategy steers every
path exactly as it does a local batch. Injecting or rewinding text ends the
path's request and continues it from the new text (budget forcing: the thinking
phase stops where the budget says, the wrap-up and close tag are appended, and
the answer is generated on). Servers cache the shared prefix, so a continuation
re-evaluates only the new text.
"""

from __future__ import annotations

import math
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

from thinkcli.engine import ModelInfo, Sampling, Token
from thinkcli.engine.remote.client import Cancel, Client
from thinkcli.errors import PathError, RemoteError


class Requests(Protocol):
    """What a batch asks of ``RemoteEngine``: requests to stream, and their tokens."""

    info: ModelInfo
    client: Client
    parallel: int

    def count_tokens(self, text: str) -> int: ...
    def estimate_tokens(self, text: str) -> int: ...
    def stream(self, text: str, cancelled: Cancel, **ask: object) -> Iterator[dict]: ...
    def delta_state(self, text: str, *, logprobs: bool = True) -> dict: ...
    def tokens_of(self, seq: int, choice: dict, state: dict) -> list[Token]: ...
    def choice_logprobs(self, text: str, choices: Sequence[Sequence[str]]) -> list[float]: ...

POLL_S = 0.1  # how often a waiting step looks up (Ctrl-C is seen between two waits)
NO_MASS = -30.0  # log-probability of a choice none of whose first tokens was in the top list
CONSTANT_CONFIDENCE = 1.0  # every token's confidence when the server gives no log-probabilities
FORCED_TRIES = 3  # one-token requests that may not end, before an end the server insists on is taken


@dataclass
class _Path:
    prompt: str
    seed: int
    sampling: Sampling
    pieces: list[tuple[str, int]] = field(default_factory=list)  # (text, tokens) since the prompt
    prompt_tokens: int = 0
    generation: int = 0  # bumped whenever the text changes under a running request
    born: int = 0  # its first generation: requests of an earlier path on the same sequence are not its
    running: Cancel | None = None  # the path's request in flight, and its off switch
    pending: deque = field(default_factory=deque)
    no_end: bool = False  # the next token may not end the path (until a token arrives)
    forced: int = 0  # one-token requests with the end banned since the last token
    ended: bool = False  # the server ended it where the end is forbidden: ask for one token alone
    full: bool = False  # the server stopped it for length: no room left
    restarts: int = 0
    failed: Exception | None = None  # raised once the tokens that came before it are handed out
    reported: list[int] | None = None  # [evaluated, cached] over its requests, as the server said
    held: bool = False  # its end was handed out: inject to continue it, or it stops

    def text(self) -> str:
        return self.prompt + "".join(t for t, _ in self.pieces)

    def used(self) -> int:
        return self.prompt_tokens + sum(n for _, n in self.pieces)

    def cancel(self) -> None:
        if self.running is not None:
            self.running.set()
            self.running = None
        self.pending.clear()
        self.failed = None  # the path's next request starts afresh
        self.held = False
        self.generation += 1


class RemoteBatch:
    """The ``Batch`` protocol over concurrent streamed completion requests."""

    def __init__(self, engine: Requests, prompt: str, *, n: int, sampling: Sampling, seeds: Sequence[int]) -> None:
        self._engine = engine
        self._queue: queue.Queue = queue.Queue()
        self._paths: dict[int, _Path] = {}
        self._live: list[int] = []
        # Log-probabilities only where a vote will weigh them: several paths. Some servers
        # (llama-cpp-python's) make every token several times slower to return them.
        self._logprobs = n > 1
        tokens = engine.count_tokens(prompt)
        self.prompt_tokens = tokens
        self.prompt_eval_tokens = tokens  # until the server says (see usage)
        self.cached_tokens = 0
        self._lock = threading.Lock()
        for seq in range(n):
            self._paths[seq] = _Path(prompt, seeds[seq % len(seeds)], sampling, prompt_tokens=tokens)
            self._live.append(seq)

    @property
    def live(self) -> list[int]:
        return list(self._live)

    def usage(self, seqs: Sequence[int]) -> tuple[int, int] | None:
        """What the server said ``seqs``' requests evaluated and took from its cache (llama-server's
        ``timings``, an OpenAI ``usage`` chunk), over all of them; None where it said nothing.
        A request cut short reports nothing."""
        with self._lock:
            said = [self._paths[s].reported for s in seqs if s in self._paths and self._paths[s].reported]
        if not said:
            return None
        return sum(r[0] for r in said), sum(r[1] for r in said)

    def free(self, seq: int) -> None:
        """Forget ``seq`` (its requests end): the server's cache is its own to manage."""
        self.stop(seq)

    def step(self) -> list[Token]:
        for seq in [s for s in self._live if self._paths[s].held]:
            self.stop(seq)  # ended, and nothing was injected to continue it
        if not self._live:
            return []
        self._launch_waiting()
        out = self._ready()
        while not out:
            self._launch_waiting()  # a path whose end was refused goes on in a new request
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            self._take(item)
            out = self._ready()
        while True:  # whatever else has arrived meanwhile
            try:
                self._take(self._queue.get_nowait())
            except queue.Empty:
                break
        return out

    def inject(self, seq: int, text: str) -> int:
        path = self._paths[seq]
        path.cancel()
        n = self._engine.estimate_tokens(text)  # short; asking a busy server would wait its turn
        path.pieces.append((text, n))
        if seq not in self._live:
            self._live.append(seq)  # an injection after the end continues the path
        return n

    def forbid_end(self, seq: int) -> None:
        # the running request may still end: that end is then swallowed and the path goes
        # on in a new request asking for min_tokens 1 (servers that ignore it end it again)
        self._paths[seq].no_end = True

    def rewind(self, seq: int, n_tokens: int) -> None:
        path = self._paths[seq]
        path.cancel()
        while n_tokens > 0 and path.pieces:
            text, n = path.pieces.pop()
            if n > n_tokens:  # part of an injected piece: keep its share by characters
                keep = len(text) * (n - n_tokens) // n
                path.pieces.append((text[:keep], n - n_tokens))
            n_tokens -= n

    def stop(self, seq: int) -> None:
        if seq in self._live:
            self._live.remove(seq)
            self._paths[seq].cancel()

    def choice_logprobs(self, seq: int, choices: Sequence[Sequence[str]]) -> list[float]:
        return self._engine.choice_logprobs(self._paths[seq].text(), choices)

    def admit(self, seqs: Sequence[int], prompt: str, *, sampling: Sampling, seeds: Sequence[int]) -> tuple[int, int]:
        """Start ``prompt`` on ``seqs``: one request each (the server caches the shared prefix).

        Returns:
            The prompt's tokens, counted, as evaluated and in all (the server's own count
            comes with ``usage``).
        """
        tokens = self._engine.count_tokens(prompt)
        for seq, seed in zip(seqs, seeds):
            old = self._paths.get(seq)
            if old is not None:
                old.cancel()
            # a generation past the old path's, so what its request still sends is dropped
            generation = old.generation + 1 if old is not None else 0
            self._paths[seq] = _Path(prompt, seed, sampling, prompt_tokens=tokens, generation=generation,
                                     born=generation)
            if seq not in self._live:
                self._live.append(seq)
        return tokens, tokens

    def room(self, seq: int | None = None) -> int:
        """Tokens a request may still add: ``seq``'s, or the fullest live path's."""
        if seq is not None and seq in self._paths:
            path = self._paths[seq]
            return 0 if path.full else self._engine.info.n_ctx - path.used()
        live = [self._paths[s] for s in self._live] or list(self._paths.values())
        if any(p.full for p in live):
            return 0
        return min((self._engine.info.n_ctx - p.used() for p in live), default=0)

    def close(self) -> None:
        for path in self._paths.values():
            path.cancel()
        self._live.clear()

    # -- requests -------------------------------------------------------------------------

    def _launch_waiting(self) -> None:
        """Start a request for each live path that needs one, up to ``parallel`` in flight."""
        running = sum(p.running is not None for p in self._paths.values())
        for seq in self._live:
            path = self._paths[seq]
            if path.running is None and not path.pending and path.failed is None and running < self._engine.parallel:
                self._launch(seq, path)
                running += 1

    def _launch(self, seq: int, path: _Path) -> None:
        cancelled = Cancel()
        path.running = cancelled
        room = self._engine.info.n_ctx - path.used()
        if room <= 0:
            path.full = True
            self._queue.put((seq, path.generation, "length"))
            return
        # A path the server ended where its end is forbidden asks for the next token alone,
        # with every end banned (see RemoteEngine.request); then it goes on in a normal
        # request. Only then: a blank answer's whitespace, token by token, would otherwise
        # be a request each.
        one = path.no_end and path.ended
        ask = dict(sampling=path.sampling, seed=path.seed + path.restarts, max_tokens=room, no_end=one,
                   logprobs=self._logprobs)
        path.restarts += 1
        path.forced += one
        path.ended = False
        worker = threading.Thread(
            target=self._run, args=(seq, path.generation, path.text(), ask, cancelled), daemon=True,
            name=f"thinkcli-path-{seq}",
        )
        worker.start()

    def _run(self, seq: int, generation: int, text: str, ask: dict, cancelled: Cancel) -> None:
        """One request's stream, fed into the shared queue (runs in its own thread)."""
        put = self._queue.put
        state = self._engine.delta_state(text, logprobs=ask["logprobs"])
        end = None
        try:
            for event in self._engine.stream(text, cancelled, **ask):
                self._count(seq, generation, event)  # a usage chunk may follow the end (vLLM, SGLang): read on to [DONE]
                for choice in event.get("choices", ()) if end is None else ():
                    tokens = self._engine.tokens_of(seq, choice, state)
                    if tokens:
                        put((seq, generation, tokens))
                    reason = choice.get("finish_reason")
                    if reason:
                        # a one-token request that reached its length has its token: go on
                        end = ("more" if ask["no_end"] else "length") if reason == "length" else "stop"
                        put((seq, generation, end))
                        break
            if end is None:
                put((seq, generation, "stop"))  # [DONE] without a finish reason
        except RemoteError as exc:
            if end is None:  # after the end, a broken trailer costs nothing
                put((seq, generation, exc))
        except Exception as exc:  # noqa: BLE001 - a thread must report, not die silently
            if end is None:
                put((seq, generation, RemoteError(f"{self._engine.client.api}: {type(exc).__name__}: {exc}")))

    def _count(self, seq: int, generation: int, event: dict) -> None:
        """Add what the server says a request evaluated and took from its cache (llama-server's
        ``timings``; an OpenAI-style ``usage`` with ``prompt_tokens_details.cached_tokens``)."""
        timings = event.get("timings")
        usage = event.get("usage")
        if isinstance(timings, dict) and isinstance(timings.get("prompt_n"), int):
            evaluated, cached = timings["prompt_n"], timings.get("cache_n") or 0
        elif isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            evaluated = usage["prompt_tokens"] - cached
        else:
            return
        with self._lock:
            path = self._paths.get(seq)
            if path is not None and generation >= path.born:  # a request of this path, not an earlier one
                done = path.reported or [0, 0]
                path.reported = [done[0] + evaluated, done[1] + cached]

    def _take(self, item: tuple) -> None:
        seq, generation, what = item
        path = self._paths.get(seq)
        if path is None or generation != path.generation:
            return  # from a request that was cancelled or replaced
        if isinstance(what, Exception):
            path.running = None
            path.failed = what
            return
        if what == "more":
            path.running = None
            return
        if isinstance(what, str):
            path.running = None
            path.full = path.full or what == "length"
            path.pending.append(Token(seq, "", 0.0, eog=True, confidence=CONSTANT_CONFIDENCE))
            return
        path.pending.extend(what)

    def _ready(self) -> list[Token]:
        """At most one token of each live path; paths whose request failed, after the tokens
        that came before the failure, end the step with a ``PathError`` that carries the rest."""
        out = []
        failed: dict[int, Exception] = {}
        for seq in self._live:
            path = self._paths[seq]
            if path.pending:
                token = path.pending.popleft()
                if token.eog and path.no_end and not path.full and path.forced < FORCED_TRIES:
                    path.ended = True
                    continue  # the end is forbidden: the path goes on in a one-token request
                if token.eog:
                    path.held = True
                else:
                    path.pieces.append((token.text, 1))
                    path.no_end = False  # the forbidden end was the next token's; this is it
                    path.forced = 0
                out.append(token)
            elif path.failed is not None:
                failed[seq] = path.failed
        if failed:
            for seq in failed:
                self.stop(seq)
            raise PathError(failed, out)
        return out


def mass(top: list[tuple[str, float]], spellings: Sequence[str]) -> float:
    """Log of the probability of the top tokens that begin any of ``spellings``."""
    total = sum(math.exp(lp) for tok, lp in top if tok.strip() and any(s.startswith(tok) for s in spellings))
    return math.log(total) if total > 0 else NO_MASS
