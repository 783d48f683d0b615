"""The remote engine against a scripted stub server: HTTP faults, the engine seam, the whole CLI."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from stub_server import HANG_UP, Fault, Stub, StubServer, reasoning

from thinkcli.engine import Sampling
from thinkcli.engine.remote import client as client_module
from thinkcli.engine.remote.batch import CONSTANT_CONFIDENCE, FORCED_TRIES, NO_MASS
from thinkcli.engine.remote.client import ATTEMPTS, Client, split_base_url
from thinkcli.engine.template import CHATML
from thinkcli.errors import PathError, RemoteError, UsageError

# A reasoning model's template: ChatML that opens the thinking (the tests of the think loop need a
# model that thinks; a served ChatML model without it gets direct answers at every level).
REASONING = CHATML.replace("<|im_start|>assistant\n' }}", "<|im_start|>assistant\n<think>\n' }}")
SECRET = "sk-test-SECRET-123"
BODY = {"model": "stub-model", "prompt": "Say hi", "max_tokens": 16}


@pytest.fixture
def serve():
    """Start a stub server from ``Stub`` options; every one started is stopped at the end."""
    servers: list[StubServer] = []

    def start(**options) -> tuple[Stub, str]:
        server = StubServer(**options).start()
        servers.append(server)
        return server.stub, server.url

    yield start
    for server in servers:
        server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sleeps(list):
    """A ``sleep`` that records how long it was asked to wait, and does not wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def texts(events: list[dict]) -> str:
    return "".join(c.get("text") or "" for e in events for c in e["choices"])



def test_the_stub_runs_as_a_program_too():
    program = Path(__file__).with_name("stub_server.py")
    options = json.dumps({"script": ["Hi", "!"], "key": "k", "faults": [{"status": 503, "times": 1}]})
    proc = subprocess.Popen([sys.executable, str(program), options], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        client = Client(url, "k", sleep=Sleeps())
        assert [m["id"] for m in client.get("/models")["data"]] == ["stub-model"]
        assert texts(list(client.stream("/completions", BODY))) == "Hi!" and client.retries == 1
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- the client ---------------------------------------------------------------------------


@pytest.mark.parametrize("given, root, api", [
    ("http://localhost:8080/v1", "http://localhost:8080", "http://localhost:8080/v1"),
    ("http://localhost:8080/v1/", "http://localhost:8080", "http://localhost:8080/v1"),
    ("http://localhost:8080", "http://localhost:8080", "http://localhost:8080/v1"),
    ("http://localhost:8080/", "http://localhost:8080", "http://localhost:8080/v1"),
    ("  https://gpu.example.org/serve/v1  ", "https://gpu.example.org/serve", "https://gpu.example.org/serve/v1"),
])
def test_base_urls_split_into_root_and_api(given, root, api):
    assert split_base_url(given) == (root, api)


@pytest.mark.parametrize("url, says", [
    ("http://user:pass@localhost:8080/v1", "holds credentials"),
    ("https://sk-abc@gpu.example.org/v1", "holds credentials"),
    ("ftp://localhost/v1", "is not an http(s) URL"),
    ("localhost:8080", "is not an http(s) URL"),
    ("http:///v1", "is not an http(s) URL"),
])
def test_bad_base_urls_are_usage_errors(url, says):
    with pytest.raises(UsageError, match=r"--base-url") as caught:
        split_base_url(url)
    assert says in str(caught.value)
    assert "pass" not in str(caught.value) and "sk-abc" not in str(caught.value)


@pytest.mark.parametrize("url, key, clear", [
    ("http://gpu-box:8080/v1", SECRET, True),
    ("http://10.0.0.7:8080/v1", SECRET, True),
    ("https://gpu-box:8080/v1", SECRET, False),
    ("http://gpu-box:8080/v1", None, False),
    ("http://localhost:8080/v1", SECRET, False),
    ("http://api.localhost:8080/v1", SECRET, False),
    ("http://127.0.0.5:8080/v1", SECRET, False),
    ("http://[::1]:8080/v1", SECRET, False),
])
def test_a_key_over_plain_http_is_noticed_off_this_machine(url, key, clear):
    client = Client(url, key)
    try:
        assert client.key_in_clear is clear
    finally:
        client.close()


def test_connect_warns_once_when_the_key_would_cross_the_network_in_clear(monkeypatch):
    from rich.console import Console

    from thinkcli import load
    from thinkcli.config import Settings

    monkeypatch.setattr(load, "_warned_clear", set())
    out = io.StringIO()
    err = Console(file=out, width=300)
    settings = Settings(backend="openai", base_url="http://gpu-box:8080/v1")
    for _ in range(2):
        load.connect(settings, {"OPENAI_API_KEY": SECRET}, err).close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "plain http" in lines[0] and "gpu-box" in lines[0] and SECRET not in lines[0]
    load.connect(Settings(backend="openai", base_url="http://localhost:8080/v1"), {"OPENAI_API_KEY": SECRET}, err).close()
    load.connect(settings, {}, err).close()
    assert len(out.getvalue().splitlines()) == 1


def test_a_refused_connection_is_retried_then_one_clear_error():
    sleeps = Sleeps()
    client = Client(f"http://127.0.0.1:{closed_port()}/v1", sleep=sleeps)
    with pytest.raises(RemoteError) as caught:
        client.get("/models")
    message = str(caught.value)
    assert message.startswith("cannot connect to http://127.0.0.1:") and "is the server running?" in message
    assert "\n" not in message
    assert len(sleeps) == client.retries == ATTEMPTS - 1
    assert all(s > 0 for s in sleeps) and sleeps == sorted(sleeps)  # backing off


def test_backoff_doubles_with_at_most_half_again_of_jitter(monkeypatch):
    sleeps = Sleeps()
    monkeypatch.setattr(client_module.random, "uniform", lambda low, high: high)  # the most jitter
    client = Client(f"http://127.0.0.1:{closed_port()}", sleep=sleeps)
    with pytest.raises(RemoteError):
        client.get("/models")
    base = client_module.BACKOFF_S
    assert sleeps == [base * 1.5, base * 2 * 1.5, base * 4 * 1.5]


def test_a_500_then_success_is_retried_once(serve):
    stub, url = serve(faults=[Fault(500, 1)])
    sleeps = Sleeps()
    client = Client(url, sleep=sleeps)
    events = list(client.stream("/completions", BODY))
    assert texts(events) == "Hello world."
    assert client.retries == 1 and len(sleeps) == 1
    assert len(stub.bodies("/v1/completions")) == 2


def test_a_connection_dropped_before_any_reply_is_retried(serve):
    stub, url = serve(faults=[Fault(HANG_UP, 2)])
    client = Client(url, sleep=Sleeps())
    assert texts(list(client.stream("/completions", BODY))) == "Hello world."
    assert client.retries == 2 and len(stub.bodies("/v1/completions")) == 3


def test_a_server_that_always_drops_the_connection_is_one_clear_error(serve):
    stub, url = serve(faults=[Fault(HANG_UP, 10)])
    with pytest.raises(RemoteError, match=r"the server closed the connection without answering") as caught:
        list(Client(url, sleep=Sleeps()).stream("/completions", BODY))
    assert "\n" not in str(caught.value) and len(stub.bodies("/v1/completions")) == ATTEMPTS


def test_429_waits_as_long_as_retry_after_says(serve):
    stub, url = serve(faults=[Fault(429, 2, headers={"Retry-After": "1"})])
    sleeps = Sleeps()
    client = Client(url, sleep=sleeps)
    assert texts(list(client.stream("/completions", BODY))) == "Hello world."
    assert sleeps == [1.0, 1.0] and client.retries == 2 and len(stub.bodies("/v1/completions")) == 3


def test_a_retry_after_too_long_is_capped(serve):
    _, url = serve(faults=[Fault(503, 1, headers={"Retry-After": "86400"})])
    sleeps = Sleeps()
    list(Client(url, sleep=sleeps).stream("/completions", BODY))
    assert sleeps == [client_module.MAX_WAIT_S]


def test_a_server_that_keeps_failing_ends_in_its_status_after_all_attempts(serve):
    stub, url = serve(faults=[Fault(503, 10, message="loading model")])
    sleeps = Sleeps()
    with pytest.raises(RemoteError, match=r"HTTP 503: loading model$"):
        list(Client(url, sleep=sleeps).stream("/completions", BODY))
    assert len(stub.bodies("/v1/completions")) == ATTEMPTS and len(sleeps) == ATTEMPTS - 1


def test_401_names_the_variable_never_the_key(serve):
    stub, url = serve(key="the-right-key")
    client = Client(url, SECRET, key_env="MY_SERVER_KEY", sleep=Sleeps())
    with pytest.raises(RemoteError) as caught:
        client.get("/models")
    message = str(caught.value)
    assert "refused the API key (HTTP 401)" in message and "MY_SERVER_KEY" in message
    assert SECRET not in message and SECRET not in repr(client)
    assert stub.requests[0].headers["Authorization"] == f"Bearer {SECRET}"  # it was sent, only there
    assert client.retries == 0


def test_a_403_is_the_same_clear_error(serve):
    _, url = serve(faults=[Fault(403, 1, path="/v1/models", message=f"key {SECRET} is not allowed")])
    with pytest.raises(RemoteError, match=r"refused the API key \(HTTP 403\)") as caught:
        Client(url, SECRET).get("/models")
    assert SECRET not in str(caught.value)


def test_an_unknown_model_says_how_to_list_the_served_ones(serve):
    _, url = serve()
    with pytest.raises(RemoteError) as caught:
        list(Client(url).stream("/completions", {**BODY, "model": "no-such-model"}))
    message = str(caught.value)
    assert "The model `no-such-model` does not exist" in message
    assert f"thinkcli models --base-url {url}" in message


def test_a_4xx_quotes_the_servers_message(serve):
    _, url = serve(faults=[Fault(400, 1, message="the request exceeds the available context size")])
    with pytest.raises(RemoteError) as caught:
        list(Client(url, sleep=Sleeps()).stream("/completions", BODY))
    assert str(caught.value) == f"{url}/completions: HTTP 400: the request exceeds the available context size"


def test_a_server_message_that_echoes_the_key_is_quoted_without_it(serve):
    _, url = serve(faults=[Fault(400, 1, message=f"header Authorization: Bearer {SECRET} is malformed")])
    with pytest.raises(RemoteError) as caught:
        list(Client(url, SECRET).stream("/completions", BODY))
    assert str(caught.value).endswith("HTTP 400: header Authorization: Bearer *** is malformed")


def test_a_stream_cut_mid_way_raises_after_what_arrived(serve):
    _, url = serve(script=["one", " two", " three", " four"], cut_after=2)
    got: list[dict] = []
    with pytest.raises(RemoteError, match=r"the stream was cut mid-way"):
        for event in Client(url).stream("/completions", BODY):
            got.append(event)
    assert texts(got) == "one two"



# -- the engine and its batch against the stub ----------------------------------------------

MESSAGES = [{"role": "user", "content": "What is 2 + 3?"}]


def engine_on(url: str, **kw):
    from thinkcli.engine.remote import RemoteEngine

    return RemoteEngine(Client(url, sleep=Sleeps()), "stub-model", **kw)


def run_out(batch, *, most: int = 200) -> dict[int, list]:
    """Step until every path ends; each path's tokens, in order (the end marker included)."""
    got: dict[int, list] = {}
    for _ in range(most):
        if not batch.live:
            break
        for token in batch.step():
            got.setdefault(token.seq, []).append(token)
            if token.eog:
                batch.stop(token.seq)
    return got


def step_text(batch, n: int) -> str:
    """The text of the next ``n`` tokens of a one-path batch."""
    return "".join(batch.step()[0].text for _ in range(n))


def test_tokens_arrive_in_order_with_logprobs_and_confidence(serve):
    from stub_server import top_of

    stub, url = serve(chat_template=CHATML, script=[("Two", -0.1), (" plus", -0.3), (" three", -1.2)])
    engine = engine_on(url, parallel=1)
    assert not engine.chat_mode and engine.info.n_ctx == 4096 and engine.info.backend == "openai"
    prompt = engine.render(MESSAGES)
    tokens = run_out(engine.start(prompt, n=2, sampling=Sampling(), seeds=[7, 8]))[0]  # two paths: a vote
    assert [t.text for t in tokens] == ["Two", " plus", " three", ""] and tokens[-1].eog
    assert [t.logprob for t in tokens[:3]] == [-0.1, -0.3, -1.2]
    for token in tokens[:3]:
        top = top_of({"text": token.text, "logprob": token.logprob}, 20)
        assert token.confidence == pytest.approx(-sum(top.values()) / 20)
    body = stub.bodies("/v1/completions")[0]
    assert body["prompt"] == prompt and body["logprobs"] == 20 and body["seed"] == 7 and body["stream"] is True
    assert engine.info.logprobs and engine.count_tokens("abcdefgh") == 2  # the server's tokenizer


def test_inject_restarts_the_path_from_prompt_plus_generated_plus_injected(serve):
    # after the injection the server ends at once, where the end is forbidden
    stub, url = serve(chat_template=CHATML, script=[["A", "B", "C", "D", "E"], [], ["F"], ["G"]], delay=0.01)
    engine = engine_on(url)
    prompt = engine.render(MESSAGES)
    batch = engine.start(prompt, n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 2) == "AB"
    batch.inject(0, "\nWrap up.")
    batch.forbid_end(0)
    rest = run_out(batch)[0]
    assert "".join(t.text for t in rest) == "FG"
    first, second, third, fourth = stub.bodies("/v1/completions")
    # The path goes on in a normal request; the server ended it anyway, so the token that
    # may not end it comes alone, with every end banned; then the path goes on.
    assert second["prompt"] == third["prompt"] == prompt + "AB\nWrap up."
    assert third["max_tokens"] == 1 and third["min_tokens"] == 1 and third["ignore_eos"] is True
    assert not {"min_tokens", "ignore_eos"} & (set(first) | set(second) | set(fourth))
    assert fourth["prompt"] == prompt + "AB\nWrap up.F"
    assert fourth["max_tokens"] == 4096 - engine.count_tokens(prompt) - 3 - engine.count_tokens("\nWrap up.")


def test_a_blank_answer_token_by_token_is_one_request_not_one_each(serve):
    """Where the answer has not begun, each blank token forbids the end again (as
    ``Sample`` does); the path stays in one request unless the server really ends it."""
    stub, url = serve(chat_template=CHATML, script=[["A", "</think>"], [" ", "\n", " ", "\n", "Hi"]], delay=0.01)
    engine = engine_on(url)
    batch = engine.start(engine.render(MESSAGES), n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 2) == "A</think>"
    batch.inject(0, "\n")
    batch.forbid_end(0)
    texts = []
    while True:
        token = batch.step()[0]
        if token.eog:
            break
        texts.append(token.text)
        if not token.text.strip():
            batch.forbid_end(0)
    assert "".join(texts) == " \n \nHi"
    assert len(stub.bodies("/v1/completions")) == 2


def test_a_forbidden_end_is_refused_and_the_path_goes_on_with_the_end_banned(serve):
    stub, url = serve(chat_template=CHATML, script=[["Thought.", "</think>"], ["The"], [" answer."], ["Never asked."]])
    engine = engine_on(url)
    prompt = engine.render(MESSAGES)
    batch = engine.start(prompt, n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 2) == "Thought.</think>"
    batch.forbid_end(0)  # the answer has not started: the request's end must not count
    assert [(t.text, t.eog) for t in run_out(batch)[0]] == [("The", False), (" answer.", False), ("", True)]
    first, second, third = stub.bodies("/v1/completions")
    assert second["prompt"] == prompt + "Thought.</think>" and second["ignore_eos"] is True
    assert third["prompt"] == prompt + "Thought.</think>The" and "ignore_eos" not in third


def test_a_forbidden_end_is_only_the_next_tokens(serve):
    stub, url = serve(chat_template=CHATML, script=[["</think>", "\n", "Five."], ["Never asked."]], delay=0.01)
    engine = engine_on(url)
    batch = engine.start(engine.render(MESSAGES), n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 2) == "</think>\n"
    batch.forbid_end(0)
    assert [(t.text, t.eog) for t in run_out(batch)[0]] == [("Five.", False), ("", True)]
    assert len(stub.bodies("/v1/completions")) == 1


def test_a_server_that_bans_no_end_ends_the_path_after_a_few_one_token_tries(serve):
    # A server that honours neither min_tokens nor ignore_eos ends every request at once:
    # the end is taken after FORCED_TRIES one-token requests, each with a new seed.
    stub, url = serve(chat_template=CHATML, script=[["Thought.", "</think>"], []], flavor="bare")
    engine = engine_on(url)
    batch = engine.start(engine.render(MESSAGES), n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 2) == "Thought.</think>"
    batch.forbid_end(0)
    assert [t.eog for t in run_out(batch)[0]] == [True]
    bodies = stub.bodies("/v1/completions")
    assert len(bodies) == 1 + FORCED_TRIES
    assert [b["max_tokens"] for b in bodies[1:]] == [1] * FORCED_TRIES
    assert len({b["seed"] for b in bodies}) == len(bodies)


def test_rewind_drops_the_last_tokens_before_the_next_request(serve):
    stub, url = serve(chat_template=CHATML, script=[["A", "B", "C", "D", "E"], ["X"]], delay=0.01)
    engine = engine_on(url)
    prompt = engine.render(MESSAGES)
    batch = engine.start(prompt, n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 3) == "ABC"
    batch.rewind(0, 2)
    assert "".join(t.text for t in run_out(batch)[0]) == "X"
    assert stub.bodies("/v1/completions")[1]["prompt"] == prompt + "A"


def test_a_path_that_ended_leaves_the_batch_at_the_next_step_unless_continued(serve):
    stub, url = serve(chat_template=CHATML, script=lambda body: ["x"] * (2 if body["seed"] == 1 else 6))
    engine = engine_on(url)
    batch = engine.start(engine.render(MESSAGES), n=2, sampling=Sampling(), seeds=[1, 2])
    ends = []
    for _ in range(40):  # never stopped by the caller, as the local batch allows
        if not batch.live:
            break
        ends += [t.seq for t in batch.step() if t.eog]
    assert sorted(ends) == [0, 1] and batch.live == []
    assert len(stub.bodies("/v1/completions")) == 2  # no path was asked to go on after its end


def wait_for_path_threads() -> None:
    """Until every path's request thread has read its stream to the end."""
    while any(t.name.startswith("thinkcli-path-") for t in threading.enumerate()):
        threading.Event().wait(0.01)


def test_a_sequence_admitted_after_a_stop_takes_nothing_from_the_stopped_request(serve):
    stub, url = serve(chat_template=CHATML, script=[["a1", "a2", "a3", "a4"], ["b1", "b2"]], delay=0.02)
    engine = engine_on(url)
    batch = engine.start(engine.render(MESSAGES), n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 1) == "a1"
    wait_for_path_threads()  # the rest of the first request is queued, not yet handed out
    batch.stop(0)
    second = engine.render([{"role": "user", "content": "Another question"}])
    batch.admit([0], second, sampling=Sampling(), seeds=[2])
    assert "".join(t.text for t in run_out(batch)[0]) == "b1b2"
    assert stub.bodies("/v1/completions")[1]["prompt"] == second


def test_one_request_in_flight_when_parallel_is_one(serve):
    stub, url = serve(chat_template=CHATML, script=["a", "b", "c", "d"], delay=0.02)
    engine = engine_on(url, parallel=1)
    tokens = run_out(engine.start(engine.render(MESSAGES), n=3, sampling=Sampling(), seeds=[1, 2, 3]))
    assert {seq: "".join(t.text for t in ts) for seq, ts in tokens.items()} == {0: "abcd", 1: "abcd", 2: "abcd"}
    assert stub.most_in_flight == 1
    assert sorted(b["seed"] for b in stub.bodies("/v1/completions")) == [1, 2, 3]


def test_paths_run_concurrently_up_to_parallel(serve):
    arrived = threading.Barrier(2, timeout=10)

    def script(body):  # each request waits until the other is in flight too
        arrived.wait()
        return ["x", "y"]

    stub, url = serve(chat_template=CHATML, script=script)
    engine = engine_on(url, parallel=2)
    tokens = run_out(engine.start(engine.render(MESSAGES), n=2, sampling=Sampling(), seeds=[1, 2]))
    assert len(tokens) == 2 and stub.most_in_flight == 2


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_chat_mode_puts_reasoning_deltas_back_between_think_tags(serve, field):
    stub, url = serve(script=[reasoning("Two", field), reasoning(" and three.", field), "It is", " 5."])
    engine = engine_on(url)
    assert engine.chat_mode and engine.info.chat_template == CHATML  # only to split off the prefill
    prompt = engine.render(MESSAGES)
    tokens = run_out(engine.start(prompt, n=2, sampling=Sampling(), seeds=[1, 2]))[0]
    assert "".join(t.text for t in tokens) == "<think>Two and three.</think>It is 5."
    assert all(t.confidence > CONSTANT_CONFIDENCE for t in tokens[:-1])  # the tags ride on real tokens
    body = stub.bodies("/v1/chat/completions")[0]
    assert body["messages"] == MESSAGES and body["logprobs"] is True and body["top_logprobs"] == 20
    assert "continue_final_message" not in body


def test_a_put_back_closing_tag_is_its_own_token_so_a_forbidden_end_is_the_answers(serve):
    stub, url = serve(script=[reasoning("Adding."), "5"])
    engine = engine_on(url)
    batch = engine.start(engine.render(MESSAGES) + "<think>\n", n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 2) == "Adding.</think>"
    batch.forbid_end(0)  # as a strategy does after a closing tag: an answer must follow
    assert [(t.text, t.eog) for t in run_out(batch)[0]] == [("5", False), ("", True)]
    assert len(stub.bodies("/v1/chat/completions")) == 1


@pytest.mark.parametrize("template", [REASONING, None], ids=["completions", "chat"])
def test_several_tokens_in_one_event_come_out_one_by_one(serve, template):
    stub, url = serve(chat_template=template, script=[{"tokens": [("Two", -0.1), (" plus", -0.2)]}, ("!", -0.3)])
    engine = engine_on(url)
    tokens = run_out(engine.start(engine.render(MESSAGES), n=2, sampling=Sampling(), seeds=[1, 2]))[0]
    assert [(t.text, t.logprob) for t in tokens[:-1]] == [("Two", -0.1), (" plus", -0.2), ("!", -0.3)]
    assert all(t.confidence > CONSTANT_CONFIDENCE for t in tokens[:-1]) and engine.info.logprobs


def test_chat_mode_reasoning_after_a_prefill_that_opened_think_is_not_opened_twice(serve):
    stub, url = serve(script=[[reasoning("Two"), reasoning(" plus"), reasoning(" three"), reasoning(" more")],
                              ["It is 5."]], delay=0.01)
    engine = engine_on(url)
    prompt = engine.render(MESSAGES) + "<think>\n"  # as prompted thinking opens it
    batch = engine.start(prompt, n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 3) == "Two plus three"
    batch.inject(0, "\n</think>\n")
    assert "".join(t.text for t in run_out(batch)[0]) == "It is 5."
    prefills = [b["messages"][-1]["content"] for b in stub.bodies("/v1/chat/completions")]
    assert prefills == ["<think>\n", "<think>\nTwo plus three\n</think>\n"]


def test_chat_mode_continues_an_injected_path_as_an_assistant_prefill(serve):
    stub, url = serve(script=[["Thinking", " on", " and", " on"], ["Done."]], delay=0.01)
    engine = engine_on(url)
    prompt = engine.render(MESSAGES)
    batch = engine.start(prompt, n=1, sampling=Sampling(), seeds=[1])
    assert step_text(batch, 2) == "Thinking on"
    batch.inject(0, "</think>")
    assert "".join(t.text for t in run_out(batch)[0]) == "Done."
    body = stub.bodies("/v1/chat/completions")[1]
    assert body["messages"] == [*MESSAGES, {"role": "assistant", "content": "Thinking on</think>"}]
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_a_server_without_logprobs_means_plain_majority(serve):
    notes: list[str] = []
    _, url = serve(chat_template=CHATML, logprobs=False, script=["a", "b"])
    engine = engine_on(url, note=notes.append)
    tokens = run_out(engine.start(engine.render(MESSAGES), n=2, sampling=Sampling(), seeds=[1, 2]))
    assert all(t.confidence == CONSTANT_CONFIDENCE for ts in tokens.values() for t in ts)
    assert engine.info.logprobs is False and engine.capabilities["vote"] == "plain majority (no log-probabilities)"
    assert sum("plain majority" in n for n in notes) == 1  # said once, not per token or path


def test_one_path_asks_for_no_logprobs_and_keeps_the_confidence_vote(serve):
    notes: list[str] = []
    stub, url = serve(chat_template=CHATML, script=[("a", -0.2), ("b", -0.4)])
    engine = engine_on(url, note=notes.append)
    tokens = run_out(engine.start(engine.render(MESSAGES), n=1, sampling=Sampling(), seeds=[1]))[0]
    assert [t.text for t in tokens] == ["a", "b", ""] and tokens[0].confidence == CONSTANT_CONFIDENCE
    assert "logprobs" not in stub.bodies("/v1/completions")[0]  # nothing will weigh one path
    assert engine.info.logprobs and not notes


def test_twenty_logprobs_refused_with_a_400_are_asked_again_as_five(serve):
    stub, url = serve(chat_template=CHATML, max_logprobs=5, script=[("a", -0.2), ("b", -0.4)])
    engine = engine_on(url, parallel=1)
    prompt = engine.render(MESSAGES)
    for _ in range(2):
        tokens = run_out(engine.start(prompt, n=2, sampling=Sampling(), seeds=[1, 2]))[0]
        assert [t.text for t in tokens] == ["a", "b", ""] and tokens[0].logprob == -0.2
    assert [b["logprobs"] for b in stub.bodies("/v1/completions")] == [20, 5, 5, 5, 5]  # asked once, remembered
    assert engine.info.logprobs


def test_a_cut_stream_hands_out_what_arrived_then_fails_without_asking_again(serve):
    stub, url = serve(chat_template=CHATML, script=["One", " two", " three", " four", " five"], cut_after=3)
    engine = engine_on(url)
    batch = engine.start(engine.render(MESSAGES), n=1, sampling=Sampling(), seeds=[1])
    got = [batch.step()[0].text]
    wait_for_path_threads()  # the cut has been read
    with pytest.raises(PathError, match="the stream was cut mid-way") as failed:
        for _ in range(10):
            got += [t.text for t in batch.step()]
    assert got == ["One", " two", " three"]
    assert isinstance(failed.value.failures[0], RemoteError) and failed.value.tokens == [] and 0 not in batch.live
    assert len(stub.bodies("/v1/completions")) == 1



def test_a_server_that_refuses_any_logprobs_is_asked_without_them(serve):
    notes: list[str] = []
    stub, url = serve(chat_template=CHATML, max_logprobs=0, script=["a", "b"])
    engine = engine_on(url, note=notes.append, parallel=1)
    tokens = run_out(engine.start(engine.render(MESSAGES), n=2, sampling=Sampling(), seeds=[1, 2]))[0]
    assert [t.text for t in tokens] == ["a", "b", ""]
    assert [b.get("logprobs") for b in stub.bodies("/v1/completions")] == [20, 5, None, None]
    assert engine.info.logprobs is False and sum("plain majority" in n for n in notes) == 1


def test_without_a_tokenizer_counts_are_estimated_and_probed_once(serve):
    notes: list[str] = []
    stub, url = serve(chat_template=CHATML, tokenize=False)
    engine = engine_on(url, note=notes.append)
    assert engine.count_tokens("x" * 35) == 10 and engine.count_tokens("y" * 36) == 11
    probed = [r.path for r in stub.requests if "tokenize" in r.path]
    assert probed == ["/tokenize", "/extras/tokenize", "/v1/tokenize"]
    assert engine.capabilities["tokens"] == "estimated" and sum("does not tokenize" in n for n in notes) == 1


@pytest.mark.parametrize("template", [REASONING, None], ids=["completions", "chat"])
def test_choice_logprobs_come_from_the_first_tokens_top_list(serve, template):
    stub, url = serve(chat_template=template, script=[("Yes", -0.25), (" it", -1.0)])
    engine = engine_on(url)
    text = engine.render(MESSAGES)
    yes, no = engine.choice_logprobs(text, [["Yes", " Yes"], ["No", " No"]])
    assert yes == pytest.approx(-0.25) and no == NO_MASS
    body = stub.requests[-1].body
    assert body["max_tokens"] == 1 and body["temperature"] == 0.0 and not body.get("stream")


# -- the whole program against the stub ------------------------------------------------------

ANSWER = ["Two", " plus", " three", " is", " five.", "</think>", "The", " answer", " is", " 5."]
PROBLEMS = [{"id": f"p{i}", "question": f"What is {i} + 3?", "answer": str(i + 3)} for i in range(3)]


def thinkcli(*args: str, stdin: str = "", env: dict | None = None, timeout: float = 120):
    """The real program in a subprocess (THINKCLI_HOME comes from the autouse fixture)."""
    environ = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return subprocess.run([sys.executable, "-m", "thinkcli", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**environ, **(env or {})})


def one_error_line(stderr: str) -> str:
    """The error line, after checking it is the only one and no traceback came with it."""
    errors = [line for line in stderr.splitlines() if line.startswith("thinkcli: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def local_run(monkeypatch, args: list[str], stdin: bytes = b"") -> str:
    """What the same command prints on the scripted local engine (in process)."""
    import thinkcli.cli as cli
    import thinkcli.load
    from thinkcli.engine.fake import FakeEngine
    from thinkcli.env import Environment

    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.BytesIO(stdin), stdout=out, stderr=err, stdin_isatty=not stdin,
                      stdout_isatty=False, vars=dict(os.environ))
    monkeypatch.setattr(cli, "_environment", lambda: env)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(thinkcli.load, "open_engine", lambda *a, **k: FakeEngine([ANSWER]))
    assert cli.main(args) == 0, err.getvalue()
    return out.getvalue()


def shape(doc: dict) -> dict:
    return {"top": set(doc), "sample": set(doc["samples"][0]), "stats": set(doc["stats"])}


def test_ask_json_against_a_server_has_the_local_shape(serve, monkeypatch):
    stub, url = serve(chat_template=REASONING, script=ANSWER)
    done = thinkcli("ask", "--base-url", url, "--json", "-e", "low", "--seed", "3", "What is 2 + 3?")
    assert done.returncode == 0, done.stderr
    remote = json.loads(done.stdout)
    local = json.loads(local_run(monkeypatch, ["ask", "--json", "-e", "low", "--seed", "3", "What is 2 + 3?"]))
    assert shape(remote) == shape(local)
    assert remote["answer"] == "The answer is 5." and remote["reasoning"] == "Two plus three is five."
    assert remote["backend"] == "openai" and remote["model"] == "stub-model" and remote["vote_weights"] == "confidence"
    assert stub.bodies("/v1/completions")[0]["seed"] == 3
    assert "no chat template" not in done.stderr


def test_paths_without_logprobs_vote_by_majority_and_the_json_says_so(serve):
    _, url = serve(script=ANSWER, logprobs=False)  # no /props either: the chat endpoint renders
    done = thinkcli("ask", "--base-url", url, "--json", "--samples", "3", "-t", "0.7", "What is 2 + 3?")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["vote_weights"] == "majority" and len(doc["samples"]) == 3 and doc["answer"] == "The answer is 5."
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert [n.split(":")[1].strip() for n in notes] == ["the server publishes no chat template",
                                                        "the server returns no log-probabilities"]
    assert notes[0].endswith("(--chat-template-file renders them here instead)")  # one line each, unwrapped
    assert notes[1].endswith("paths vote by plain majority")
    assert "the model has no chat template" not in done.stderr  # the server applies the model's own


def test_a_chat_turn_against_a_reasoning_server_is_one_request_with_a_clean_answer(serve):
    stub, url = serve(script=[reasoning("Adding two and three."), "The answer is 5."])
    done = thinkcli("chat", "--base-url", url, stdin="What is 2 + 3?\nAnd 3 + 3?\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["The answer is 5.", "The answer is 5."]
    bodies = stub.bodies("/v1/chat/completions")
    assert len(bodies) == 2 and bodies[1]["messages"][2] == {"role": "assistant", "content": "The answer is 5."}


def test_a_refused_connection_is_one_line_and_exit_1():
    done = thinkcli("ask", "--base-url", f"http://127.0.0.1:{closed_port()}/v1", "q")
    assert done.returncode == 1 and done.stdout == ""
    assert "cannot connect to http://127.0.0.1:" in one_error_line(done.stderr)


@pytest.mark.parametrize("fault", [Fault(500, 1), Fault(429, 1, headers={"Retry-After": "1"})],
                         ids=["500-once", "429-retry-after"])
def test_a_busy_server_is_asked_again(serve, fault):
    stub, url = serve(chat_template=REASONING, script=ANSWER, faults=[fault])
    done = thinkcli("ask", "--base-url", url, "-e", "low", "What is 2 + 3?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "The answer is 5.\n"
    assert len(stub.bodies("/v1/completions")) == 2


@pytest.mark.parametrize("template", [REASONING, None], ids=["completions", "chat"])
def test_a_stream_cut_mid_way_keeps_what_arrived_and_exits_1(serve, template):
    _, url = serve(chat_template=template, script=ANSWER, cut_after=8)  # after "The answer"
    done = thinkcli("ask", "--base-url", url, "-e", "low", "What is 2 + 3?")
    assert done.returncode == 1
    assert done.stdout.strip() == "The answer"
    assert "the stream was cut mid-way" in one_error_line(done.stderr)


def test_a_model_the_server_does_not_serve_names_the_ones_it_does(serve):
    _, url = serve(chat_template=CHATML, models=("alpha-7b", "beta-70b"))
    done = thinkcli("ask", "--base-url", url, "--model", "gamma", "q")
    assert done.returncode == 1
    assert "has no model 'gamma'; it serves: alpha-7b, beta-70b" in one_error_line(done.stderr)
    done = thinkcli("ask", "--base-url", url, "q")  # the default names a local model, and two are served
    assert done.returncode == 1 and "(choose one with --model)" in one_error_line(done.stderr)


def test_parallel_bounds_the_requests_in_flight(serve):
    stub, url = serve(chat_template=CHATML, script=ANSWER, delay=0.01)
    done = thinkcli("ask", "--base-url", url, "--json", "--samples", "3", "--parallel", "1", "-t", "0.7", "q")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["samples"]) == 3
    assert stub.most_in_flight == 1 and len(stub.bodies("/v1/completions")) >= 2  # a path may be decided unasked


def test_ctrl_c_ends_the_run_with_130_and_closes_the_streams(serve):
    stub, url = serve(chat_template=CHATML, script=ANSWER * 40, delay=0.1)
    proc = subprocess.Popen([sys.executable, "-m", "thinkcli", "ask", "--base-url", url, "--samples", "2", "q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"})
    while stub.most_in_flight < 2 and proc.poll() is None:
        threading.Event().wait(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    for _ in range(500):  # the server notices at its next write that nobody reads any more
        if not stub.in_flight:
            break
        threading.Event().wait(0.02)
    assert stub.in_flight == 0


def test_credentials_in_the_base_url_are_refused_with_exit_2():
    done = thinkcli("ask", "--base-url", "http://user:hunter2@127.0.0.1:9/v1", "q")
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "holds credentials" in line and "--api-key-env" in line and "hunter2" not in done.stderr


def written(*roots: Path) -> str:
    """Everything in every file under ``roots``."""
    return "".join(p.read_text(errors="replace") for root in roots if root.exists()
                   for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file())


def test_a_wrong_key_is_a_clear_error_and_is_written_nowhere(serve, isolated_home, tmp_path):
    stub, url = serve(chat_template=CHATML, script=ANSWER, key="the-right-key")
    key = {"OPENAI_API_KEY": SECRET}
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    out_file = tmp_path / "out.jsonl"
    runs = [thinkcli("ask", "--base-url", url, "q", env=key),
            thinkcli("ask", "--base-url", url, "--json", "q", env=key),
            thinkcli("--debug", "ask", "--base-url", url, "q", env=key),
            thinkcli("batch", str(problems), "--base-url", url, "-o", str(out_file), env=key),
            thinkcli("chat", "--base-url", url, stdin="hello\n", env=key)]
    assert all(r.returncode == 1 for r in runs), [r.stderr for r in runs]
    for r in (runs[0], runs[1], runs[4]):
        line = one_error_line(r.stderr)
        assert "refused the API key (HTTP 401)" in line and "OPENAI_API_KEY" in line
    assert "Traceback" in runs[2].stderr and "refused the API key" in runs[2].stderr
    assert all(r.headers.get("Authorization") == f"Bearer {SECRET}" for r in stub.requests)  # it was sent
    everything = "".join(r.stdout + r.stderr for r in runs) + written(isolated_home, tmp_path)
    assert SECRET not in everything and "SECRET" not in everything


def test_a_right_key_is_written_nowhere_either(serve, isolated_home, tmp_path):
    _, url = serve(chat_template=CHATML, script=ANSWER, key=SECRET)
    key = {"OPENAI_API_KEY": SECRET}
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    out_file = tmp_path / "out.jsonl"
    runs = [thinkcli("--debug", "ask", "--base-url", url, "--json", "--show-thinking", "q", env=key),
            thinkcli("batch", str(problems), "--base-url", url, "-o", str(out_file), "--json", env=key),
            thinkcli("chat", "--base-url", url, stdin="What is 2 + 3?\nAnd 3 + 3?\n", env=key)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert out_file.read_text().count("\n") == 3 and (isolated_home / "thinkcli.db").stat().st_size > 0
    everything = "".join(r.stdout + r.stderr for r in runs) + written(isolated_home, tmp_path)
    assert "The answer is 5." in everything and SECRET not in everything


def test_batch_against_a_server_writes_the_local_records(serve, monkeypatch, tmp_path):
    stub, url = serve(chat_template=REASONING, script=ANSWER)
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    out_file = tmp_path / "out.jsonl"
    done = thinkcli("batch", str(problems), "--base-url", url, "-e", "low", "-o", str(out_file))
    assert done.returncode == 0, done.stderr
    remote = [json.loads(line) for line in out_file.read_text().splitlines()]
    local = [json.loads(line) for line in local_run(monkeypatch, ["batch", str(problems), "-e", "low"]).splitlines()]
    assert [r["id"] for r in remote] == ["p0", "p1", "p2"]
    assert [set(r) for r in remote] == [set(r) for r in local]
    assert [set(r["stats"]) for r in remote] == [set(r["stats"]) for r in local]
    assert [r["correct"] for r in remote] == [False, False, True]  # every path says 5
    assert len(stub.bodies("/v1/completions")) == 3



def test_batch_parallel_keeps_each_problems_text_to_itself(serve, tmp_path):
    def script(body):  # the answer names the problem's own number
        number = int(re.findall(r"What is (\d+) \+ 3\?", body["prompt"])[-1])
        return ["Adding", " three.", "</think>", "The", " answer", " is", f" {number + 3}."]

    stub, url = serve(chat_template=CHATML, script=script, delay=0.01)
    rows = [{"id": f"p{i}", "question": f"What is {i} + 3?", "answer": str(i + 3)} for i in range(6)]
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in rows))
    done = thinkcli("batch", str(problems), "--base-url", url, "-e", "low", "--samples", "1", "--parallel", "3")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["id"] for r in records] == [f"p{i}" for i in range(6)]
    assert all(r["correct"] for r in records), [r["answer"] for r in records]
    assert stub.most_in_flight <= 3


# -- each server as its code and documentation describe it (tests/stub_server.py PROFILES) ----

# The model thinks, then ends its turn inside the thinking: thinkcli closes the thinking, and the
# end the model then wants at once is refused. The one-token request that follows bans the end
# where the server can (min_tokens, ignore_eos); where it cannot, three tries with new seeds.
THINKS_THEN_STOPS = ["Two", " plus", " three", " is", " five."]


def _thinks_then_answers(body: dict) -> list:
    if "prompt" in body:
        sent = body["prompt"].rsplit("assistant", 1)[-1]  # the reply so far
    else:
        last = body["messages"][-1]
        sent = last["content"] if last["role"] == "assistant" else ""
    if "</think>" not in sent:
        return THINKS_THEN_STOPS
    if not sent.rsplit("</think>", 1)[1].strip():
        return []  # the model would end at once: the answer has not begun
    return ["The", " answer", " is", " 5."]


@pytest.mark.parametrize("flavor, answered, cached, endpoint", [
    ("llama-cpp-python", True, False, "/v1/completions"),  # min_tokens
    ("llama-server", True, True, "/v1/completions"),  # ignore_eos; log-probabilities in the chat shape; timings
    ("vllm", True, True, "/v1/completions"),  # min_tokens; two tokens per chunk; a usage trailer
    ("sglang", True, False, "/v1/completions"),  # min_tokens; three tokens per chunk
    ("ollama", False, False, "/v1/chat/completions"),  # no ban at all; completions are not raw
    ("bare", False, False, "/v1/completions"),  # no ban at all
])
def test_each_server_flavor_maps_the_think_loop(serve, tmp_path, flavor, answered, cached, endpoint):
    template = tmp_path / "chatml.jinja"
    template.write_text(REASONING)
    stub, url = serve(script=_thinks_then_answers, flavor=flavor)
    done = thinkcli("ask", "--base-url", url, "--chat-template-file", str(template), "--json", "-e", "low",
                    "--samples", "2", "--seed", "5", "What is 2 + 3?")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["vote_weights"] == "confidence"  # each flavor's log-probabilities are read
    assert all(s["confidence"] not in (0.0, CONSTANT_CONFIDENCE) for s in doc["samples"])
    assert all(s["thinking_tokens"] >= len(THINKS_THEN_STOPS) for s in doc["samples"])  # a token per listed token
    bodies = stub.bodies(endpoint)
    one_token = [b for b in bodies if b["max_tokens"] == 1]
    if answered:
        assert "5" in doc["answer"] and len(one_token) == 2  # one banned-end request per path
    else:
        assert doc["answer"] == "" and len(one_token) == 2 * FORCED_TRIES
        assert len({b["seed"] for b in one_token}) >= FORCED_TRIES  # each try of a path samples anew
    assert (doc["stats"]["cached_tokens"] > 0) is cached
    if flavor == "ollama":
        assert "Ollama applies the model's template" in done.stderr
        assert not stub.bodies("/v1/completions")


# -- defects found reading the code ---------------------------------------------------------


def test_chat_mode_keeps_only_its_latest_renders_and_reads_them_safely_from_threads(serve):
    # A chat renders its whole conversation every turn: the renders kept grew with the square
    # of the turns, and worker threads iterated them while the main thread added more.
    import threading

    from thinkcli.engine.remote import RENDERS_KEPT

    _, url = serve(script=["ok"])  # no /props: chat mode
    engine = engine_on(url)
    assert engine.chat_mode
    first = engine.render(MESSAGES)
    failures: list[BaseException] = []
    stop = threading.Event()

    def split_forever():
        while not stop.is_set():
            try:
                engine._split(first + "x")
            except RemoteError:
                pass  # the first render may have been let go: a one-line error, not a crash
            except BaseException as exc:  # noqa: BLE001 - what the test looks for
                failures.append(exc)
                return

    reader = threading.Thread(target=split_forever)
    reader.start()
    try:
        for turn in range(400):
            engine.render([*MESSAGES, {"role": "assistant", "content": "x" * turn}, *MESSAGES])
    finally:
        stop.set()
        reader.join()
    assert failures == [] and len(engine._rendered) == RENDERS_KEPT


def test_a_finished_streams_switch_lets_go_of_its_connection(serve):
    # A stream's off switch held its socket; once the stream ended the connection could go
    # back to the pool and serve another path's request, which a late cancel (a path that
    # changed course just then) would have shut down.
    from thinkcli.engine.remote.client import Cancel

    _, url = serve(script=["one", " two"])
    client = Client(url, sleep=Sleeps())
    late = Cancel()
    stream = client.stream("/completions", BODY, late)
    next(stream)
    assert late._socket is not None  # while it streams, the switch can wake the read
    assert texts(list(stream)) == " two"
    assert late._socket is None  # ended: a late set() reaches no connection
    late.set()
    assert texts(list(client.stream("/completions", BODY, Cancel()))) == "one two"
    client.close()


def test_a_top_list_with_two_tokens_of_one_spelling_keeps_both(serve):
    # Keyed by text, two top entries that spell the same ('a' as two token ids) became one,
    # and the confidence was a mean over 19 tokens instead of 20.
    _, url = serve(chat_template=CHATML)
    engine = engine_on(url)
    top = [{"token": "a", "logprob": -0.1}, {"token": "a", "logprob": -3.0}] + [
        {"token": f"t{i}", "logprob": -5.0} for i in range(18)]
    choice = {"text": "a", "logprobs": {"content": [{"token": "a", "logprob": -0.1, "top_logprobs": top}]}}
    (token,) = engine.tokens_of(0, choice, engine.delta_state(""))
    assert token.confidence == pytest.approx((0.1 + 3.0 + 18 * 5.0) / 20)
    engine.close()
