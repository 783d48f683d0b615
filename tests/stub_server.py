"""A scripted OpenAI-compatible server on loopback, for the remote engine's tests.

Standard library only: a ``ThreadingHTTPServer`` in a daemon thread on a free
port. It serves ``/v1/models``, ``/props`` (optional), ``/tokenize`` (optional)
and streaming ``/v1/completions`` and ``/v1/chat/completions`` from a script,
fails on request (a status for the first K requests, a stream cut mid-way, 401
for a wrong key, 400 for too many log-probabilities) and records every request.

As a program (``python tests/stub_server.py '{"script": ["Hi", "!"]}'``) it
prints its base URL on the first line of stdout and serves until killed.

``flavor`` plays a particular server, as its code and documentation describe it
(``PROFILES``): where its log-probabilities go and in which shape, which steering
it honours (``min_tokens``, ``ignore_eos``), how it reports usage and cached
tokens, how many top log-probabilities it allows and how it says no.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Union

MODEL = "stub-model"
STREAMING = ("/v1/completions", "/v1/chat/completions")
HANG_UP = 0  # a Fault status: close the connection without answering
# A piece is its text, (text, logprob), or a dict {"text", "logprob", "field"} where
# field is "content" (the default) or "reasoning_content"/"reasoning" in chat mode; a
# dict {"tokens": [(text, logprob), ...]} sends several tokens in one event.
Piece = Union[str, tuple, dict]
Script = Union[list, Callable[[dict], list]]


@dataclass(frozen=True)
class Profile:
    """What one server does with the same request.

    Args:
        shape: log-probabilities on /v1/completions: ``legacy`` (tokens, token_logprobs,
            top_logprobs dicts keyed by text), ``content`` (the chat shape, with ids), or
            ``none`` (the endpoint sends none).
        honours: the steering fields it applies (the rest it ignores).
        usage: ``final`` (usage and timings on the last chunk, always), ``trailer`` (a
            ``choices: []`` chunk after the end when ``stream_options.include_usage``),
            ``every`` (zeros on every chunk, then a trailer), or ``none``.
        cached: prompt tokens it reports as served from its cache on each request.
        max_logprobs: the most top log-probabilities it allows, and its refusal.
        refusal: the message of that refusal.
        flat_errors: error bodies are ``{"object": "error", "message": ...}`` (SGLang).
        raw_completions: /v1/completions decodes the prompt as given (Ollama wraps it in
            the model's chat template, as a user turn).
        reasoning_field: the chat delta field reasoning arrives in.
        tokens_per_chunk: how many tokens one streamed chunk may carry.
        paths: extra endpoints it answers (``/api/version``).
    """

    shape: str = "legacy"
    honours: frozenset = frozenset({"min_tokens"})
    usage: str = "none"
    cached: int = 0
    max_logprobs: int | None = None
    refusal: str = "logprobs must be at most {max}"
    flat_errors: bool = False
    raw_completions: bool = True
    reasoning_field: str = "reasoning_content"
    tokens_per_chunk: int = 1
    paths: tuple = ()


PROFILES = {
    # llama-cpp-python's server: the legacy shape; the stub's default
    "llama-cpp-python": Profile(),
    # a server that honours no steering beyond the OpenAI fields
    "bare": Profile(honours=frozenset()),
    # llama.cpp's llama-server: the chat shape on completions, no min_tokens but ignore_eos,
    # usage and timings (cache_n) on the last chunk whatever was asked
    "llama-server": Profile(shape="content", honours=frozenset({"ignore_eos", "logit_bias"}), usage="final",
                            cached=8),
    # vLLM: the legacy shape keyed by text, min_tokens and ignore_eos, at most 20 top
    # log-probabilities, usage in a trailing chunk, several tokens in a chunk when it runs ahead
    "vllm": Profile(honours=frozenset({"min_tokens", "ignore_eos", "logit_bias"}), usage="trailer", cached=8,
                    max_logprobs=20, refusal="Requested sample logprobs of {want}, which is greater than max allowed: {max}",
                    reasoning_field="reasoning", tokens_per_chunk=2),
    # SGLang: the legacy shape (text_offset -1), flat error bodies, several tokens per chunk
    "sglang": Profile(honours=frozenset({"min_tokens", "ignore_eos", "logit_bias"}), usage="trailer",
                      flat_errors=True, tokens_per_chunk=3),
    # Ollama's OpenAI layer: completions wrap the prompt in the model's template and carry no
    # log-probabilities; chat carries them (at most 20); no min_tokens, ignore_eos or logit_bias
    "ollama": Profile(shape="none", honours=frozenset(), usage="every", max_logprobs=20,
                      refusal="top_logprobs must be between 0 and {max}", raw_completions=False,
                      reasoning_field="reasoning", paths=("/api/version",)),
}
BANNED_END_FILLER = " So"  # what a server that honours a banned end decodes where the script ends


def reasoning(text: str, field: str = "reasoning_content") -> dict:
    """A chat-mode piece that arrives as a reasoning delta."""
    return {"text": text, "field": field}


@dataclass
class Fault:
    """Answer ``status`` to the first ``times`` requests on ``path``.

    Args:
        status: the HTTP status to answer (``HANG_UP``: none, the connection is closed).
        times: how many requests fail before the path works.
        path: the request path it applies to.
        headers: extra response headers (``{"Retry-After": "1"}``).
        message: the error message in the OpenAI-shaped JSON body.
    """

    status: int
    times: int = 1
    path: str = "/v1/completions"
    headers: dict = field(default_factory=dict)
    message: str = "the stub was told to fail"


@dataclass
class Request:
    """One request as the stub received it."""

    method: str
    path: str
    headers: dict
    body: dict | None


class Stub:
    """The server's script, faults and record.

    Args:
        script: the pieces each streamed request yields: one list for every request,
            a list of lists (one per request, the last repeated), or a callable of the body.
        logprobs: whether streamed pieces carry log-probabilities (when asked for).
        chat_template: published on ``/props``; None: no ``/props`` at all.
        n_ctx: the context ``/props`` publishes.
        tokenize: serve ``/tokenize`` (one token per 4 characters, at least one).
        key: the only API key accepted (None: any, or none).
        faults: failures for the first requests on a path.
        cut_after: close the socket after this many chunks of every stream (no ``[DONE]``).
        max_logprobs: a 400 for requests that ask for more top log-probabilities.
        delay: seconds between two chunks (so overlapping requests would overlap).
        models: the ids ``/v1/models`` lists.
        flavor: the server played (a key of ``PROFILES``).
    """

    def __init__(
        self,
        script: Script = ("Hello", " world", "."),
        *,
        logprobs: bool = True,
        chat_template: str | None = None,
        n_ctx: int = 4096,
        tokenize: bool = True,
        key: str | None = None,
        faults: tuple[Fault, ...] | list[Fault] = (),
        cut_after: int | None = None,
        max_logprobs: int | None = None,
        delay: float = 0.0,
        models: tuple[str, ...] = (MODEL,),
        flavor: str = "llama-cpp-python",
    ) -> None:
        self.profile = PROFILES[flavor]
        self.script = script
        self.logprobs = logprobs
        self.chat_template = chat_template
        self.n_ctx = n_ctx
        self.tokenize = tokenize
        self.key = key
        self.faults = [Fault(**f) if isinstance(f, dict) else f for f in faults]
        self.cut_after = cut_after
        self.max_logprobs = max_logprobs if max_logprobs is not None else self.profile.max_logprobs
        self.delay = delay
        self.models = list(models)
        self.requests: list[Request] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._streams = 0
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}

    # -- what tests look at -------------------------------------------------------------

    def bodies(self, path: str) -> list[dict]:
        """The JSON bodies of every request on ``path``, in order."""
        return [r.body for r in self.requests if r.path == path and r.body is not None]

    # -- the handler's decisions --------------------------------------------------------

    def record(self, request: Request) -> int:
        """Record a request; returns how many came to its path before it."""
        with self._lock:
            self.requests.append(request)
            seen = self._seen.get(request.path, 0)
            self._seen[request.path] = seen + 1
            return seen

    def fault_for(self, path: str, seen: int) -> Fault | None:
        passed = 0
        for fault in self.faults:
            if fault.path != path:
                continue
            if seen < passed + fault.times:
                return fault
            passed += fault.times
        return None

    def pieces_for(self, body: dict) -> list[dict]:
        with self._lock:
            index = self._streams
            self._streams += 1
        script = self.script
        if callable(script):
            script = script(body)
        elif script and all(isinstance(s, (list, tuple)) and not _is_piece_tuple(s) for s in script):
            script = script[min(index, len(script) - 1)]
        return [_piece(p) for p in script]

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _is_piece_tuple(value) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and not isinstance(value[1], str)


def _piece(p: Piece) -> dict:
    if isinstance(p, dict) and "tokens" in p:  # several tokens in one event
        return {"field": "content", "logprob": -0.5, "text": "".join(t for t, _ in p["tokens"]), **p}
    if isinstance(p, dict):
        return {"field": "content", "logprob": -0.5, **p}
    if isinstance(p, tuple):
        return {"text": p[0], "logprob": p[1], "field": "content"}
    return {"text": p, "logprob": -0.5, "field": "content"}


def top_of(piece: dict, k: int) -> dict[str, float]:
    """The top-k list the stub sends: the piece itself, then fillers far less likely."""
    top = {piece["text"]: piece["logprob"]}
    for i in range(1, k):
        top[f"<alt{i}>"] = piece["logprob"] - 2.0 - i
    return top


def tokens_of(piece: dict) -> list[dict]:
    """The tokens a piece is made of: itself, or the ``tokens`` it lists."""
    return [{"text": t, "logprob": lp} for t, lp in piece.get("tokens", [(piece["text"], piece["logprob"])])]


def completion_event(piece: dict, want: int, profile: Profile = PROFILES["llama-cpp-python"]) -> dict:
    choice: dict = {"index": 0, "text": piece["text"], "finish_reason": None}
    tokens = tokens_of(piece)
    if want and profile.shape == "legacy":
        choice["logprobs"] = {"tokens": [t["text"] for t in tokens], "token_logprobs": [t["logprob"] for t in tokens],
                              "top_logprobs": [top_of(t, want) for t in tokens], "text_offset": [-1] * len(tokens)}
    elif want and profile.shape == "content":
        choice["logprobs"] = {"content": _content(tokens, want, ids=True)}
    return {"object": "text_completion", "model": MODEL, "choices": [choice]}


def chat_event(piece: dict, want: int, profile: Profile = PROFILES["llama-cpp-python"]) -> dict:
    field_name = piece["field"] if piece["field"] == "content" else profile.reasoning_field
    if piece["field"] not in ("content", "reasoning_content"):
        field_name = piece["field"]  # a test that names the field
    choice: dict = {"index": 0, "delta": {field_name: piece["text"]}, "finish_reason": None}
    if want:
        choice["logprobs"] = {"content": _content(tokens_of(piece), want, ids=False)}
    return {"object": "chat.completion.chunk", "model": MODEL, "choices": [choice]}


def _content(tokens: list[dict], want: int, *, ids: bool) -> list[dict]:
    """Log-probabilities in the chat shape: a list per token, its top list a list too."""
    out = []
    for t in tokens:
        item = {"token": t["text"], "logprob": t["logprob"], "bytes": list(t["text"].encode()),
                "top_logprobs": [{"token": k, "logprob": lp} for k, lp in top_of(t, want).items()]}
        if ids:
            item["id"] = abs(hash(t["text"])) % 49152
        out.append(item)
    return out


def wanted_logprobs(path: str, body: dict) -> int:
    if path.endswith("/chat/completions"):
        return int(body.get("top_logprobs") or 0) if body.get("logprobs") else 0
    return int(body.get("logprobs") or 0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE chunks go out at once, as a real server's do
    stub: Stub  # set on the class made for each server

    def log_message(self, format, *args):  # quiet: the tests read the record
        pass

    def do_GET(self):
        self._handle(None)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self._json(400, {"error": {"message": "the body is not JSON"}})
        self._handle(body)

    def _handle(self, body: dict | None) -> None:
        stub = self.stub
        path = self.path.split("?")[0]
        seen = stub.record(Request(self.command, path, dict(self.headers.items()), body))
        if stub.key is not None:
            sent = self.headers.get("Authorization", "")
            if sent != f"Bearer {stub.key}":
                given = sent.removeprefix("Bearer ")  # echoed like OpenAI's own message does
                return self._json(401, {"error": {"message": f"Incorrect API key provided: {given}"}})
        fault = stub.fault_for(path, seen)
        if fault is not None and fault.status == HANG_UP:
            self.close_connection = True
            return  # not a byte: a proxy or a restarting server dropped the request
        if fault is not None:
            return self._json(fault.status, {"error": {"message": fault.message}}, fault.headers)
        if path in stub.profile.paths:
            return self._json(200, {"version": "0.12.11"})
        if path == "/v1/models":
            return self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in stub.models]})
        if path == "/props" and stub.chat_template is not None:
            return self._json(200, {"chat_template": stub.chat_template,
                                    "default_generation_settings": {"n_ctx": stub.n_ctx}})
        if path == "/tokenize" and stub.tokenize and body is not None:
            text = str(body.get("content", ""))
            return self._json(200, {"tokens": list(range(max(1, math.ceil(len(text) / 4))))})
        if path in STREAMING and body is not None:
            return self._generate(path, body)
        return self._json(404, {"error": {"message": f"no route {path}"}})

    def _generate(self, path: str, body: dict) -> None:
        self.stub.enter()
        try:
            self._answer(path, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client cancelled the stream
        finally:
            self.stub.leave()

    def _answer(self, path: str, body: dict) -> None:
        stub = self.stub
        if body.get("model") not in stub.models:
            return self._json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist"}})
        profile = stub.profile
        want = wanted_logprobs(path, body)
        if stub.max_logprobs is not None and want > stub.max_logprobs:
            message = profile.refusal.format(want=want, max=stub.max_logprobs)
            return self._json(400, {"object": "error", "message": message} if profile.flat_errors
                              else {"error": {"message": message}})
        chat = path.endswith("/chat/completions")
        want = want if stub.logprobs and (chat or profile.shape != "none") else 0
        pieces = stub.pieces_for(body)
        if not pieces and _end_banned(body, profile):
            pieces = [_piece(BANNED_END_FILLER)]
        limit = int(body.get("max_tokens") or len(pieces))
        finish = "length" if pieces and limit <= len(pieces) else "stop"  # the end would have been one more token
        pieces = _grouped(pieces[:limit], profile.tokens_per_chunk)

        def event(piece: dict, want: int) -> dict:
            made = (chat_event if chat else completion_event)(piece, want, profile)
            if profile.usage == "every" and body.get("stream_options", {}).get("include_usage"):
                made["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            return made
        if not body.get("stream"):
            return self._json(200, _whole(pieces, want, event, finish))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, piece in enumerate(pieces):
            if stub.cut_after is not None and i == stub.cut_after:
                self.close_connection = True
                self.wfile.flush()
                return  # no last chunk, no [DONE]: the client sees a broken stream
            self._chunk(event(piece, want))
            if stub.delay:
                threading.Event().wait(stub.delay)
        last = event({"text": "", "logprob": 0.0, "field": "content"}, 0)
        last["choices"][0]["finish_reason"] = finish
        last["choices"][0].pop("logprobs", None)
        prompt_n = math.ceil(len(str(body.get("prompt") or body.get("messages") or "")) / 4)
        usage = {"prompt_tokens": prompt_n, "completion_tokens": len(pieces), "total_tokens": prompt_n + len(pieces),
                 "prompt_tokens_details": {"cached_tokens": min(profile.cached, prompt_n)}}
        if profile.usage == "final":
            last["usage"] = usage
            last["timings"] = {"prompt_n": prompt_n - min(profile.cached, prompt_n),
                               "cache_n": min(profile.cached, prompt_n), "predicted_n": len(pieces)}
        self._chunk(last)
        if profile.usage in ("trailer", "every") and body.get("stream_options", {}).get("include_usage"):
            self._chunk({"object": last["object"], "model": MODEL, "choices": [], "usage": usage})
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _chunk(self, event: dict) -> None:
        self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, doc: dict, headers: dict | None = None) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _end_banned(body: dict, profile: Profile) -> bool:
    """The request bans an end at its first token, in a way this server honours."""
    return bool(("min_tokens" in profile.honours and int(body.get("min_tokens") or 0) > 0)
                or ("ignore_eos" in profile.honours and body.get("ignore_eos")))


def _grouped(pieces: list[dict], size: int) -> list[dict]:
    """Pieces joined ``size`` at a time into one chunk of several tokens (a server running ahead)."""
    if size <= 1:
        return pieces
    out = []
    for i in range(0, len(pieces), size):
        group = pieces[i : i + size]
        if len(group) == 1 or any(p["field"] != group[0]["field"] for p in group):
            out += group
            continue
        tokens = [(t["text"], t["logprob"]) for p in group for t in tokens_of(p)]
        out.append({"field": group[0]["field"], "text": "".join(t for t, _ in tokens), "logprob": tokens[0][1],
                    "tokens": tokens})
    return out


def _whole(pieces: list[dict], want: int, event, finish: str) -> dict:
    """A non-streamed reply: the first piece's event with the whole text (enough for one token)."""
    first = event(pieces[0], want) if pieces else event({"text": "", "logprob": 0.0, "field": "content"}, 0)
    choice = first["choices"][0]
    text = "".join(p["text"] for p in pieces)
    if "delta" in choice:
        choice["message"] = {"role": "assistant", "content": text}
        del choice["delta"]
    else:
        choice["text"] = text
    choice["finish_reason"] = finish
    return first


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no news
            super().handle_error(request, client_address)


class StubServer:
    """A ``Stub`` served on ``127.0.0.1`` at a free port (a context manager).

    Attributes:
        url: the OpenAI base, ``http://127.0.0.1:PORT/v1``.
    """

    def __init__(self, stub: Stub | None = None, **options) -> None:
        self.stub = stub or Stub(**options)
        handler = type("StubHandler", (Handler,), {"stub": self.stub})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="stub-server", daemon=True)

    def __enter__(self) -> Stub:
        self._thread.start()
        return self.stub

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str]) -> None:
    """Serve the stub configured by a JSON object (the ``Stub`` keyword arguments) until killed."""
    options = json.loads(argv[0]) if argv else {}
    server = StubServer(**options).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main(sys.argv[1:])
