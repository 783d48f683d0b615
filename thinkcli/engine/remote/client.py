"""HTTP to an OpenAI-compatible server: JSON calls and server-sent event streams.

The only code that speaks HTTP (through httpx). It retries what a busy or
restarting server answers before the first byte (connection errors, 429 and
5xx, honouring ``Retry-After``) with exponential backoff and jitter, and turns
every failure into one ``RemoteError`` line. The API key goes into the
``Authorization`` header and nowhere else: no message, repr or log holds it.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import random
import socket
import threading
import time
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx

from thinkcli.errors import RemoteError, UsageError

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 4  # the first try and three retries
BACKOFF_S = 0.5  # first wait; doubled each retry, with up to 50% jitter
MAX_WAIT_S = 30.0  # the longest Retry-After honoured
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 300.0  # between two bytes: a long prompt's evaluation comes first


def split_base_url(url: str) -> tuple[str, str]:
    """The server's root and its OpenAI API base (``.../v1``) from what the user gave.

    Raises:
        UsageError: not an http(s) URL, or credentials in it (they belong in the environment).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--base-url: {url!r} is not an http(s) URL (for example http://localhost:8080/v1)")
    if parts.username or parts.password:
        raise UsageError(
            "--base-url: the URL holds credentials; put the key in an environment variable "
            "and name it with --api-key-env (default OPENAI_API_KEY)"
        )
    path = parts.path.rstrip("/")
    root_path = path[: -len("/v1")] if path.endswith("/v1") else path
    root = urlunsplit((parts.scheme, parts.netloc, root_path, "", ""))
    return root, root + "/v1"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine by itself: ``localhost`` (and ``*.localhost``,
    RFC 6761) or a loopback address. Other names are not resolved: they count as remote."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def server_message(response: httpx.Response) -> str:
    """The error text a server put in its body (OpenAI's, FastAPI's or plain), on one line."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return " ".join(text.split())[:300]
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            return " ".join(str(err).split())[:300]
    return " ".join(json.dumps(body).split())[:300]


class Cancel:
    """A stream's off switch, set from any thread (Ctrl-C, or a path that changes course)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._socket = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def attach(self, response: httpx.Response) -> None:
        """The stream's connection: shut down at once if the switch is already set."""
        stream = response.extensions.get("network_stream")
        with self._lock:
            self._socket = stream.get_extra_info("socket") if stream is not None else None
        if self.is_set():
            self._shutdown()

    def set(self) -> None:
        self._event.set()
        self._shutdown()

    def detach(self) -> None:
        """The stream is over: its connection may go back to the pool and serve another
        request, so a later ``set`` must not shut it down."""
        with self._lock:
            self._socket = None

    def _shutdown(self) -> None:
        with self._lock:
            sock, self._socket = self._socket, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


class Client:
    """JSON and SSE calls to one server.

    Args:
        base_url: the server, with or without its ``/v1``.
        api_key: sent as a bearer token; None sends none.
        sleep: how to wait between retries (tests pass a recorder).
        read_timeout: the longest silence allowed between two bytes of a reply.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        key_env: str = "OPENAI_API_KEY",
        sleep: Callable[[float], None] = time.sleep,
        read_timeout: float = READ_TIMEOUT_S,
    ) -> None:
        self.root, self.api = split_base_url(base_url)
        parts = urlsplit(self.root)
        # Whether the key crosses a network unencrypted (said once, by whoever connects).
        self.key_in_clear = bool(api_key) and parts.scheme == "http" and not is_loopback(parts.hostname or "")
        self._key_env = key_env
        self._key = api_key or ""  # only to strike it out of server messages that echo it
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_S)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self._http = httpx.Client(headers=headers, timeout=timeout, limits=limits, trust_env=True)
        self._sleep = sleep
        self.retries = 0  # how many retries this client made (for --json stats and tests)

    def __repr__(self) -> str:  # never the headers
        return f"Client({self.api!r})"

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, *, root: bool = False) -> dict:
        """GET a JSON document (``root``: outside ``/v1``, like llama-server's ``/props``)."""
        response = self._send("GET", path, root=root)
        try:
            response.read()
        finally:
            response.close()
        return _json(response, self._url(path, root))

    def post(self, path: str, body: dict, *, root: bool = False) -> dict:
        """POST JSON and read the JSON reply."""
        response = self._send("POST", path, body, root=root)
        try:
            response.read()
        finally:
            response.close()
        return _json(response, self._url(path, root))

    def stream(self, path: str, body: dict, cancelled: Cancel | None = None) -> Iterator[dict]:
        """POST with ``stream: true`` and yield each event's JSON until ``[DONE]``.

        ``cancelled.set()`` from another thread ends the stream at once: the socket is
        shut down, which wakes the blocked read and tells the server to stop.

        Raises:
            RemoteError: the stream broke off before ``[DONE]`` (what was yielded stands).
        """
        url = self._url(path, False)
        # usage (with cached tokens, where a server reports them) in a last chunk
        response = self._send("POST", path, {**body, "stream": True, "stream_options": {"include_usage": True}})
        if cancelled is not None:
            cancelled.attach(response)
        with contextlib.closing(response):
            finished = False
            try:
                for line in response.iter_lines():
                    if cancelled is not None and cancelled.is_set():
                        return
                    if not line.startswith("data:"):
                        continue  # comments, event names, keep-alives
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    event = json.loads(data)
                    if isinstance(event, dict) and "error" in event:
                        said = self._unkeyed(server_message_of(event))
                        raise RemoteError(f"{url}: the server stopped with an error: {said}")
                    finished = finished or any(c.get("finish_reason") for c in event.get("choices", ()))
                    yield event
            except (httpx.TransportError, json.JSONDecodeError) as exc:
                if cancelled is not None and cancelled.is_set():
                    return
                raise RemoteError(f"{url}: the stream was cut mid-way ({type(exc).__name__})") from None
            finally:
                if cancelled is not None:
                    cancelled.detach()
            if not finished and not (cancelled is not None and cancelled.is_set()):
                raise RemoteError(f"{url}: the stream was cut mid-way (it ended without a finish)")

    # -- one request, retried until its first byte ------------------------------------------

    def _url(self, path: str, root: bool) -> str:
        return (self.root if root else self.api) + path

    def _send(self, method: str, path: str, body: dict | None = None, *, root: bool = False):
        url = self._url(path, root)
        for attempt in range(ATTEMPTS):
            try:
                request = self._http.build_request(method, url, json=body)
                response = self._http.send(request, stream=True)
            except httpx.ConnectError:
                if attempt + 1 == ATTEMPTS:
                    raise RemoteError(f"cannot connect to {self.root} (is the server running?)") from None
                self._wait(attempt, None)
                continue
            except httpx.TimeoutException:
                raise RemoteError(f"{url}: the server did not answer in time") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # dropped before a byte of the reply (a restarting server, a proxy): safe to ask again
                if attempt + 1 == ATTEMPTS:
                    raise RemoteError(
                        f"{url}: the server closed the connection without answering ({type(exc).__name__})"
                    ) from None
                self._wait(attempt, None)
                continue
            except httpx.TransportError as exc:
                raise RemoteError(f"{url}: {type(exc).__name__}") from None
            if response.status_code < 400:
                return response
            response.read()
            response.close()
            if response.status_code in RETRY_STATUS and attempt + 1 < ATTEMPTS:
                self._wait(attempt, retry_after(response.headers.get("retry-after")))
                continue
            raise self._refused(response, url, path)
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, asked: float | None) -> None:
        self.retries += 1
        if asked is not None:
            self._sleep(min(asked, MAX_WAIT_S))
            return
        base = BACKOFF_S * 2**attempt
        self._sleep(base + random.uniform(0, base / 2))

    def _unkeyed(self, said: str) -> str:
        """A server's message with the key struck out (some echo what they were sent)."""
        return said.replace(self._key, "***") if self._key else said

    def _refused(self, response: httpx.Response, url: str, path: str) -> RemoteError:
        code = response.status_code
        said = self._unkeyed(server_message(response))
        if code in (401, 403):
            return RemoteError(
                f"{self.root} refused the API key (HTTP {code}); check the variable {self._key_env}"
                " (or name another with --api-key-env)"
            )
        if code == 404 and path in ("/completions", "/chat/completions") and "model" in said.lower():
            return RemoteError(f"{self.root}: {said} (thinkcli models --base-url {self.api} lists its models)")
        if code == 404:
            return RemoteError(f"{url}: not found (HTTP 404){': ' + said if said else ''}")
        return RemoteError(f"{url}: HTTP {code}{': ' + said if said else ''}")


def server_message_of(event: dict) -> str:
    err = event.get("error")
    if isinstance(err, dict):
        err = err.get("message", err)
    return " ".join(str(err).split())[:300]


def _json(response: httpx.Response, url: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise RemoteError(f"{url}: the server's reply is not JSON") from None
    return body if isinstance(body, dict) else {"data": body}
