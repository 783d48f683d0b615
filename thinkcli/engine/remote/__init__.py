"""The remote engine: the same think loop on an OpenAI-compatible server.

llama-server, vLLM, SGLang, Ollama and llama-cpp-python's server all take a raw
prompt on ``/v1/completions``. thinkcli renders the prompt itself with the
model's chat template (from the server's ``/props``, ``--chat-template-file`` or
the GGUF file when it is at hand), so budget forcing, injected wrap-ups and the
reasoning parser work exactly as on llama.cpp. Without a template the prompt goes
through ``/v1/chat/completions`` with the path's text as an assistant prefill
(``continue_final_message``), and reasoning that arrives as
``reasoning_content`` is put back between the format's tags for the parser.

What maps natively is found out, said once, and reported in ``capabilities``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Callable, Iterator, Sequence

from thinkcli.engine import ModelInfo, Sampling, Token
from thinkcli.engine.remote.batch import CONSTANT_CONFIDENCE, NO_MASS, RemoteBatch, mass
from thinkcli.engine.remote.client import Client
from thinkcli.engine.template import CHATML, render_for
from thinkcli.errors import RemoteError

TOP_LOGPROBS = 20  # DeepConf's k; servers that allow fewer are asked again with FALLBACK_LOGPROBS
FALLBACK_LOGPROBS = 5  # OpenAI's own limit on the completions endpoint
DEFAULT_CTX = 8192
CHARS_PER_TOKEN = 3.5  # the estimate used when the server will not tokenize
MAX_PATHS = 256  # paths open at once (requests beyond ``parallel`` wait their turn)
RENDERS_KEPT = 16  # chat mode: the latest renders whose paths may still be continued


def list_models(client: Client) -> list[dict]:
    """What ``/v1/models`` offers: one dict per model (``id`` and whatever else the server says)."""
    return [m for m in client.get("/models").get("data", []) if isinstance(m, dict) and "id" in m]


class RemoteEngine:
    """A model served over HTTP, behind the same seam as ``LlamaEngine``.

    Its context is one per request (``info.shared_context`` is False), and its paths are
    requests: any number may be open, ``parallel`` of them in flight.

    Args:
        client: the server connection.
        model: the served model's id.
        ctx: the context per request (None: what the server publishes, else 8192).
        chat_template: a Jinja chat template to render prompts with client-side (None:
            the server's, from ``/props``; failing that the chat endpoint renders them).
        parallel: most requests in flight at once (paths beyond it wait their turn).
        local_template: where to look for the template when the server publishes none
            (the same model's GGUF file, when it is at hand).
        note: told once about each capability that does not map.
    """

    def __init__(
        self,
        client: Client,
        model: str,
        *,
        ctx: int | None = None,
        chat_template: str | None = None,
        parallel: int = 4,
        local_template: Callable[[], str | None] = lambda: None,
        note: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.client = client
        self.parallel = parallel
        self._note = note
        self._said: set[str] = set()
        self._tokenizer: str | None = None  # the tokenize endpoint that answered; "" = none does
        self._logprobs = TOP_LOGPROBS
        props = self._props()
        served = props.get("chat_template") or None
        template = chat_template or served or local_template()
        # Ollama renders a /v1/completions prompt through the model's template as a user turn:
        # a prompt rendered here would be templated twice, so it gets the chat endpoint.
        wraps = not props and self._is_ollama()
        self.chat_mode = template is None or wraps
        # chat mode: rendered text -> its messages, for the latest renders only (a chat
        # renders its whole conversation every turn); worker threads read it
        self._rendered: OrderedDict[str, list[dict]] = OrderedDict()
        self._rendered_lock = threading.Lock()
        settings = props.get("default_generation_settings") or {}
        n_ctx = ctx or settings.get("n_ctx") or props.get("n_ctx") or DEFAULT_CTX
        # chat mode renders with ChatML only to tell the messages from the prefill; the
        # server applies the model's own template, so no "no chat template" warning is due
        self.info = ModelInfo(
            name=model, path=client.api, n_ctx=int(n_ctx), n_ctx_train=int(n_ctx),
            chat_template=CHATML if template is None else template,
            bos_token=str(props.get("bos_token") or ""), eos_token=str(props.get("eos_token") or ""),
            backend="openai", logprobs=True, shared_context=False, template_unknown=template is None,
        )
        self.capabilities = {
            "template": ("the chat endpoint (assistant prefill)" if self.chat_mode
                         else "--chat-template-file" if chat_template else "the server's /props" if served
                         else "the local GGUF file"),
            "paths": f"concurrent requests (at most {parallel})",
            "budget": "chat prefill continued" if self.chat_mode else "completions stopped at the budget, then continued",
        }
        if wraps:
            self._say("template", "Ollama applies the model's template to /v1/completions prompts: prompts go "
                      "through its chat endpoint with an assistant prefill")
        elif self.chat_mode:
            self._say("template", "the server publishes no chat template: prompts go through its chat endpoint "
                      "with an assistant prefill (--chat-template-file renders them here instead)")

    # -- the Engine protocol -------------------------------------------------------------

    def render(self, messages: list[dict], **template_kwargs: object) -> str:
        text = render_for(self.info, messages, **template_kwargs)
        if self.chat_mode:
            with self._rendered_lock:
                self._rendered[text] = [dict(m) for m in messages]
                self._rendered.move_to_end(text)
                while len(self._rendered) > RENDERS_KEPT:
                    self._rendered.popitem(last=False)
        return text

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        if self._tokenizer != "":
            count = self._tokenize(text)
            if count is not None:
                return count
        return self.estimate_tokens(text)

    def estimate_tokens(self, text: str) -> int:
        """About how many tokens ``text`` takes, without asking the server."""
        return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) if text else 0

    n_seq_max = MAX_PATHS

    def resize(self, n_seq_max: int, *, n_ctx: int | None = None) -> None:
        """Nothing to remake: paths are requests, and the server sizes its own context."""

    def start(self, prompt: str, *, n: int, sampling: Sampling, seeds: Sequence[int]) -> RemoteBatch:
        return RemoteBatch(self, prompt, n=n, sampling=sampling, seeds=seeds)

    def close(self) -> None:
        self.client.close()

    # -- what the batch asks for ---------------------------------------------------------

    def request(
        self, text: str, *, sampling: Sampling, seed: int, max_tokens: int, no_end: bool, logprobs: bool = True
    ) -> tuple[str, dict]:
        """The endpoint and body that continue ``text`` (a rendered prompt plus a path's text);
        ``logprobs``: ask for the top log-probabilities of each token (a vote will weigh them)."""
        body: dict = {
            "model": self.info.name, "max_tokens": max_tokens, "temperature": sampling.temperature,
            "top_p": sampling.top_p, "seed": seed,
            # Sample as thinkcli does here: llama.cpp servers add min-p and a repeat penalty by default.
            "min_p": 0.0, "repeat_penalty": 1.0,
        }
        if sampling.top_k > 0:
            body["top_k"] = sampling.top_k
        if no_end:
            # One token that may not end the turn, then the path goes on in a normal request:
            # min_tokens for vLLM, SGLang and llama-cpp-python, ignore_eos (every end-of-
            # generation token banned) for llama-server; servers ignore what they lack.
            body.update(max_tokens=1, min_tokens=1, ignore_eos=True)
        want = logprobs and self._logprobs
        if want:
            body["logprobs"] = self._logprobs
        if not self.chat_mode:
            return "/completions", {**body, "prompt": text}
        messages, prefill = self._split(text)
        if want:
            body["logprobs"], body["top_logprobs"] = True, self._logprobs
        if prefill:
            messages = [*messages, {"role": "assistant", "content": prefill}]
            body.update(continue_final_message=True, add_generation_prompt=False)
        return "/chat/completions", {**body, "messages": messages}

    def stream(self, text: str, cancelled, **ask) -> Iterator[dict]:
        """Stream the continuation of ``text``; a server that refuses 20 log-probabilities
        is asked for 5, then for none (the vote then falls back to plain majority)."""
        while True:
            path, body = self.request(text, **ask)
            try:
                yield from self.client.stream(path, body, cancelled)
                return
            except RemoteError as exc:
                if not (ask.get("logprobs", True) and self._logprobs) or "logprob" not in str(exc).lower() \
                        or "HTTP 4" not in str(exc):
                    raise
                self._logprobs = FALLBACK_LOGPROBS if self._logprobs > FALLBACK_LOGPROBS else 0
                if not self._logprobs:
                    self._no_logprobs()

    def tokens_of(self, seq: int, choice: dict, state: dict) -> list[Token]:
        """The tokens in one streamed choice (completions ``text`` or chat ``delta``)."""
        if "delta" in choice:
            return self._delta_tokens(seq, choice, state)
        text = choice.get("text") or ""
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and logprobs.get("content"):  # llama-server: the chat shape
            return self._spoken(seq, text, choice, state)
        if isinstance(logprobs, dict) and logprobs.get("tokens") and "".join(logprobs["tokens"]) == text:
            tops = logprobs.get("top_logprobs") or [None] * len(logprobs["tokens"])
            return [
                self._token(seq, t, lp, list(top.values()) if isinstance(top, dict) else None, state)
                for t, lp, top in zip(logprobs["tokens"], logprobs["token_logprobs"], tops)
            ]
        if not text:
            return []
        self._missing(state)
        return [Token(seq, text, 0.0, confidence=CONSTANT_CONFIDENCE)]

    def delta_state(self, text: str, *, logprobs: bool = True) -> dict:
        """What reading one request's stream keeps track of: whether log-probabilities were
        asked for, and how chat deltas continuing ``text`` start (inside a think block the
        prefill left open, where reasoning deltas add no second opening tag, or outside)."""
        return {"open": text.rfind("<think>") > text.rfind("</think>"), "asked": logprobs}

    def choice_logprobs(self, text: str, choices: Sequence[Sequence[str]]) -> list[float]:
        """How likely the next token after ``text`` starts each choice (from the top log-probabilities)."""
        path, body = self.request(text, sampling=Sampling(temperature=0.0), seed=0, max_tokens=1, no_end=True)
        reply = self.client.post(path, body)
        choice = (reply.get("choices") or [{}])[0]
        top = _first_top(choice)
        if top is None:  # no log-probabilities: the answer the model gives counts as certain
            said = (choice.get("text") or (choice.get("message") or {}).get("content") or "").strip()
            return [0.0 if said and any(said.startswith(s.strip()) for s in sp) else NO_MASS for sp in choices]
        return [mass(top, spellings) for spellings in choices]

    # -- discovery and degrading ---------------------------------------------------------

    def _props(self) -> dict:
        """llama-server's ``/props`` (template, context, special tokens); {} where there is none."""
        try:
            return self.client.get("/props", root=True)
        except RemoteError:
            return {}

    def _is_ollama(self) -> bool:
        """Whether the server is Ollama (it answers ``/api/version``)."""
        try:
            return "version" in self.client.get("/api/version", root=True)
        except RemoteError:
            return False

    def _tokenize(self, text: str) -> int | None:
        """The server's token count for ``text``; None where it gives none (an estimate is
        used). The endpoint is found on first use; one that worked and fails once more
        (a busy server) costs that call its count, not the endpoint."""
        known = self._tokenizer
        for path in [known] if known else ["/tokenize", "/extras/tokenize", "/v1/tokenize"]:
            body = {"content": text, "input": text, "prompt": text, "model": self.info.name, "add_special": False,
                    "add_special_tokens": False}
            try:
                reply = self.client.post(path, body, root=True)
            except RemoteError:
                continue
            tokens = reply.get("tokens")
            count = reply.get("count", len(tokens) if isinstance(tokens, list) else None)
            if isinstance(count, int):
                self._tokenizer = path
                return count
        if not known:
            self._tokenizer = ""
            self._say("tokenize", "the server does not tokenize: budgets count about "
                      f"{CHARS_PER_TOKEN} characters per token")
            self.capabilities["tokens"] = "estimated"
            self.info = replace(self.info, exact_counts=False)
        return None

    def _no_logprobs(self) -> None:
        if self.info.logprobs:
            self.info = replace(self.info, logprobs=False)
            self.capabilities["vote"] = "plain majority (no log-probabilities)"
            self._say("logprobs", "the server returns no log-probabilities: paths vote by plain majority")

    def _missing(self, state: dict) -> None:
        """A token came without the log-probabilities its request asked for."""
        if state.get("asked", True):
            self._no_logprobs()

    def _token(self, seq: int, text: str, logprob: float | None, top: list[float] | None, state: dict) -> Token:
        """One token; its confidence is minus the mean of its top log-probabilities (each
        listed token counts, also two that spell the same text)."""
        if logprob is None:
            self._missing(state)
            return Token(seq, text, 0.0, confidence=CONSTANT_CONFIDENCE)
        if top and self._logprobs and len(top) > self._logprobs:  # vLLM adds the sampled token to its top k
            top = sorted(top, reverse=True)[: self._logprobs]
        confidence = -sum(top) / len(top) if top else -logprob
        return Token(seq, text, float(logprob), confidence=float(confidence))

    def _delta_tokens(self, seq: int, choice: dict, state: dict) -> list[Token]:
        """A chat delta's tokens, with the think tags that reasoning deltas lost put back.

        A tag comes out as a token of its own (as the model's own tag would be), so
        that what follows it, such as the forbidden end after a closing tag, is the
        next token, as on a local engine.
        """
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        content = delta.get("content") or ""
        tag = ""
        if reasoning:
            if not state.get("reasoning") and not state.get("open"):
                tag = "<think>"
            state["reasoning"] = True
        if content and state.get("reasoning") and not state.get("closed"):
            state["closed"] = True
            if reasoning:  # both in one delta (rare): the closing tag goes between them
                return self._spoken(seq, tag + reasoning + "</think>" + content, choice, state)
            tag = "</think>"
        tokens = self._spoken(seq, reasoning + content, choice, state)
        if tag and tokens:
            return [Token(seq, tag, 0.0, confidence=tokens[0].confidence), *tokens]
        return tokens

    def _spoken(self, seq: int, text: str, choice: dict, state: dict) -> list[Token]:
        """The tokens of a chat delta's ``text``: one per listed log-probability where they spell it."""
        if not text:
            return []
        items = (choice.get("logprobs") or {}).get("content") or []
        if "".join(str(i.get("token", "")) for i in items) == text and all(i.get("logprob") is not None for i in items):
            return [
                self._token(seq, i["token"], i["logprob"], [t["logprob"] for t in i.get("top_logprobs", [])], state)
                for i in items
            ]
        if not items:
            self._missing(state)
        return [Token(seq, text, float(items[0]["logprob"]) if items else 0.0, confidence=CONSTANT_CONFIDENCE)]

    def _split(self, text: str) -> tuple[list[dict], str]:
        """Chat mode: the messages a text was rendered from, and what follows them."""
        with self._rendered_lock:
            best = max((r for r in self._rendered if text.startswith(r)), key=len, default=None)
            messages = self._rendered.get(best) if best is not None else None
        if best is None or messages is None:
            raise RemoteError("chat endpoint: a prompt thinkcli did not render (pass --chat-template-file)")
        return messages, text[len(best):]

    def _say(self, key: str, message: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self._note(message)


def _first_top(choice: dict) -> list[tuple[str, float]] | None:
    """The first position's top tokens as (text, log-probability) pairs, duplicate spellings kept."""
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    tops = logprobs.get("top_logprobs")
    if isinstance(tops, list) and tops and isinstance(tops[0], dict):
        return list(tops[0].items())
    content = logprobs.get("content")
    if isinstance(content, list) and content:
        return [(t["token"], t["logprob"]) for t in content[0].get("top_logprobs", [])]
    return None
