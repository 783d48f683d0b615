"""The remote engine against a scripted stub server: HTTP faults, the engine seam, the whole CLI."""

from __future__ import annotations

import socket

import pytest

from stub_server import Fault, Stub, StubServer
from thinkcli.engine.remote import client as client_module
from thinkcli.engine.remote.client import ATTEMPTS, Client, split_base_url
from thinkcli.errors import RemoteError, UsageError

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


def test_429_waits_as_long_as_retry_after_says(serve):
    stub, url = serve(faults=[Fault(429, 2, headers={"Retry-After": "1"})])
    sleeps = Sleeps()
    client = Client(url, sleep=sleeps)
    assert texts(list(client.stream("/completions", BODY))) == "Hello world."
    assert sleeps == [1.0, 1.0] and client.retries == 2


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


def test_a_stream_cut_mid_way_raises_after_what_arrived(serve):
    _, url = serve(script=["one", " two", " three", " four"], cut_after=2)
    got: list[dict] = []
    with pytest.raises(RemoteError, match=r"the stream was cut mid-way"):
        for event in Client(url).stream("/completions", BODY):
            got.append(event)
    assert texts(got) == "one two"

