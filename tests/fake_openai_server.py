"""A tiny, deterministic OpenAI-compatible server for testing the HTTP backend (standard library only).

Endpoints: POST /v1/chat/completions, POST /v1/completions and POST /v1/embeddings.

* Generation: the reply is "The correct option is Option N." where N comes from a `[[answer=N]]`
  marker in the prompt (else a hash of the prompt), so tests can check that answers come back in
  input order under concurrency.
* Scoring (`echo` + `logprobs`): the prompt is split into whitespace-led chunks (`\\s*\\S+`), each a
  "token" with a deterministic log-prob (`token_logprob`); `FakeOpenAIServer.score` exposes the same
  numbers so tests can compute expected sums independently of the client.
* Embeddings: `embedding(text, dim)` hashes the text's lower-cased words into `dim` buckets
  (`server.embedding_dim`, default 16) and returns that count vector, not normalised, so texts
  sharing words get a higher cosine; "float" or "base64" (float32) encoding as the client asks.
* Fault injection: `server.plan` is a list of outcomes consumed one per request (then "ok"):
  "ok", "429" (with Retry-After: `retry_after`), "500", "503", "400", "401", "404", "timeout" (sleeps
  `timeout_sleep` s before answering), "malformed" (status 200, invalid JSON), "disconnect"
  (closes the socket without a response).
* `server.logprobs_mode`: "ok", "unsupported" (400 with an error JSON saying echo/logprobs are
  unsupported), "missing" (200 with `logprobs: null`), "no_max_tokens_0" (400 when max_tokens is 0,
  like some servers; with max_tokens=1 it appends one generated token).
* `server.require_key`: when set, requests whose bearer token differs get 401.
* Every request is recorded in `server.requests` as dicts {path, body, headers (names lower-cased)}.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_CHUNK = re.compile(r"\s*\S+|\s+$")
_MARKER = re.compile(r"\[\[answer=(\d+)\]\]")


def tokenize(text: str) -> list[tuple[str, int]]:
    """(token, character offset) pairs; concatenating the tokens gives `text` back."""
    return [(m.group(0), m.start()) for m in _CHUNK.finditer(text)]


def token_logprob(index: int, token: str) -> float:
    """Deterministic, distinct-looking log-probs in [-10, -0.01]."""
    return -((zlib.crc32(f"{index}:{token}".encode()) % 1000) + 1) / 100.0


def is_top(token: str) -> bool:
    """Whether the fake model ranks `token` first (so `is_greedy` can be tested)."""
    return "bad" not in token


def embedding(text: str, dim: int) -> list[float]:
    """The deterministic vector the server returns for `text`: word counts hashed into `dim` buckets."""
    vec = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        vec[zlib.crc32(word.encode()) % dim] += 1.0
    return vec


def answer_for(prompt: str) -> int:
    m = _MARKER.search(prompt)
    return int(m.group(1)) if m else zlib.crc32(prompt.encode()) % 4 + 1


class FakeOpenAIServer:
    def __init__(self) -> None:
        self.plan: list[str] = []
        self.logprobs_mode = "ok"
        self.require_key: str | None = None
        self.timeout_sleep = 1.5
        self.retry_after = "0"  # the Retry-After header sent with "429"
        self.delay = 0.0  # seconds every request takes, to observe concurrency
        self.tail = ""  # text the model goes on with after its answer
        self.max_inflight = 0  # most requests handled at once
        self.embedding_dim = 16
        self._inflight = 0
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # daemon threads: a handler still sleeping in a "timeout" must not block teardown
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, client_address: None  # broken pipes after timeouts
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeOpenAIServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes handlers sleeping in "timeout"
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @staticmethod
    def score(text: str) -> list[tuple[str, int, float | None]]:
        """(token, offset, logprob) as the server reports them for an echoed prompt."""
        return [(t, o, None if i == 0 else token_logprob(i, t)) for i, (t, o) in enumerate(tokenize(text))]

    def _next_outcome(self) -> str:
        with self._lock:
            return self.plan.pop(0) if self.plan else "ok"

    def _record(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)

    # ------------------------------------------------------------------ responses
    def _complete(self, body: dict) -> tuple[int, dict]:
        prompt = body.get("prompt", "")
        if isinstance(prompt, list):
            prompt = prompt[0] if prompt else ""
        if not (body.get("echo") and body.get("logprobs") is not None):
            return 200, self._reply(body, prompt, chat=False)
        mode = self.logprobs_mode
        if mode == "unsupported":
            return 400, _error("echo and logprobs are not supported for this model", "invalid_request_error")
        max_tokens = body.get("max_tokens", 16)
        if mode == "no_max_tokens_0" and max_tokens == 0:
            return 400, _error("max_tokens must be at least 1, got 0", "invalid_request_error")
        text = prompt + (" gen" if max_tokens and max_tokens > 0 else "")
        toks = tokenize(text)
        logprobs = {
            "tokens": [t for t, _ in toks],
            "text_offset": [o for _, o in toks],
            "token_logprobs": [None if i == 0 else token_logprob(i, t) for i, (t, _) in enumerate(toks)],
            "top_logprobs": [None]
            + [
                {t: token_logprob(i, t)} if is_top(t) else {" good": token_logprob(i, t) + 0.5, t: token_logprob(i, t)}
                for i, (t, _) in enumerate(toks)
                if i > 0
            ],
        }
        choice = {"index": 0, "text": text, "finish_reason": "length", "logprobs": None if mode == "missing" else logprobs}
        return 200, {
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": 0,
            "model": body.get("model", ""),
            "choices": [choice],
            "usage": {"prompt_tokens": len(tokenize(prompt)), "completion_tokens": len(toks) - len(tokenize(prompt)),
                      "total_tokens": len(toks)},
        }

    def _reply(self, body: dict, prompt: str, chat: bool) -> dict:
        text = f"The correct option is Option {answer_for(prompt)}." + self.tail
        for s in body.get("stop") or []:
            if s in text:
                text = text[: text.index(s)]
        usage = {"prompt_tokens": len(tokenize(prompt)), "completion_tokens": len(tokenize(text))}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
            obj = "text_completion"
        return {"id": "fake", "object": obj, "created": 0, "model": body.get("model", ""), "choices": [choice],
                "usage": usage}

    def _embed(self, body: dict) -> dict:
        texts = body.get("input", "")
        texts = [texts] if isinstance(texts, str) else list(texts)
        data = []
        for i, text in enumerate(texts):
            vec = embedding(str(text), self.embedding_dim)
            if body.get("encoding_format") == "base64":
                import array

                out: object = base64.b64encode(array.array("f", vec).tobytes()).decode()
            else:
                out = vec
            data.append({"object": "embedding", "index": i, "embedding": out})
        n = sum(len(tokenize(str(t))) for t in texts)
        return {"object": "list", "data": data, "model": body.get("model", ""),
                "usage": {"prompt_tokens": n, "total_tokens": n}}

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: dict | bytes, headers: dict | None = None) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                server._record({"path": self.path, "body": body, "headers": {k.lower(): v for k, v in self.headers.items()}})
                with server._lock:
                    server._inflight += 1
                    server.max_inflight = max(server.max_inflight, server._inflight)
                try:
                    server._stop.wait(server.delay)
                    self._answer(body)
                finally:
                    with server._lock:
                        server._inflight -= 1

            def _answer(self, body: dict) -> None:
                outcome = server._next_outcome()
                if outcome == "timeout":
                    server._stop.wait(server.timeout_sleep)  # longer than the client's timeout
                elif outcome == "disconnect":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                elif outcome == "malformed":
                    return self._send(200, b'{"choices": [ {"text": "trunc')
                elif outcome == "429":
                    return self._send(429, _error("rate limited", "rate_limit_error"), {"Retry-After": server.retry_after})
                elif outcome != "ok":
                    status = int(outcome)
                    return self._send(status, _error(f"injected HTTP {status}", "fake_error"))
                if server.require_key is not None:
                    presented = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if presented != server.require_key:
                        # echoes the key, as careless servers do, so tests can check the client scrubs it
                        return self._send(401, _error(f"Incorrect API key provided: {presented}", "invalid_api_key"))
                if self.path == "/v1/chat/completions":
                    msgs = body.get("messages") or []
                    prompt = "\n\n".join(str(m.get("content", "")) for m in msgs)
                    return self._send(200, server._reply(body, prompt, chat=True))
                if self.path == "/v1/completions":
                    return self._send(*server._complete(body))
                if self.path == "/v1/embeddings":
                    return self._send(200, server._embed(body))
                return self._send(404, _error(f"no route {self.path}", "not_found"))

        return Handler


def _error(message: str, type_: str) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": None}}
