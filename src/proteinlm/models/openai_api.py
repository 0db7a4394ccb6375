"""Backend for any OpenAI-compatible HTTP server (vLLM, llama.cpp server, OpenAI itself).

Generation uses /chat/completions (chat=True, the server applies the chat template) or /completions
(chat=False, the prompt is `render(prompt)` as raw text). Scoring (`loglikelihood`) always uses
/completions with `echo=True, logprobs=1, max_tokens=0`: the server returns the log-prob of every
prompt token and we sum those that fall inside the continuation. Chat templates cannot be applied
client-side, so in loglik mode the context is the raw `render(prompt)` text even when chat=True; the
server must expose a completions endpoint that echoes prompt log-probs (vLLM does; OpenAI's chat
models do not). In chat generation `prompt.answer_prefix` is not sent: there is no portable way to
pre-fill the assistant turn (generation prompts have an empty prefix anyway).

The `openai` client's own retries are disabled so that one policy (tenacity, below) governs every
retry: exponential backoff with jitter on 429/408/5xx, timeouts, connection errors and unparsable
bodies, honouring Retry-After (capped at `backoff_max`). Other 4xx fail at once: retrying a bad
request or a bad key only wastes time.

The API key is read from the environment variable `api_key_env` and handed to the client only; it
never appears in describe(), repr() or messages (messages are also scrubbed defensively, in case a
server echoes the key back).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Callable, Sequence, TypeVar
from urllib.parse import urlsplit

import openai
import tenacity

from ..errors import BackendError, BackendUnsupported
from .base import (
    Backend,
    ContinuationScore,
    Generation,
    GenerationParams,
    LoglikResult,
    Prompt,
    chat_messages,
    stop_regex,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

_RETRY_STATUS = {408, 429}  # plus every 5xx


class _Transient(Exception):
    """A failure worth retrying; `retry_after` is the server's requested delay, if any."""

    def __init__(self, what: str, retry_after: float | None = None):
        super().__init__(what)
        self.retry_after = retry_after


class _HTTPStatus(BackendError):
    """A non-retryable HTTP error; carries the status and the server's message for callers to inspect."""

    def __init__(self, message: str, status: int, detail: str):
        super().__init__(message)
        self.status = status
        self.detail = detail


def _server_message(exc: openai.APIStatusError) -> str:
    """The human part of an error body: {"error": {"message": ...}}, {"detail": ...} or plain text."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            body = inner.get("message") or inner.get("detail") or json.dumps(inner)[:500]
        else:
            body = inner
    return str(body)[:500] if body else exc.message


def _retry_after(headers) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or garbled."""
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class OpenAIBackend(Backend):
    kind = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        chat: bool = True,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        api_key_env: str = "OPENAI_API_KEY",
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
    ):
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise BackendError("concurrency must be >= 1, max_retries >= 0 and timeout > 0")
        self.name = model
        self.chat = chat
        url = (base_url or "https://api.openai.com/v1").rstrip("/")
        # "http://host:8000" is a common way to name a vLLM server; its API lives under /v1
        self.base_url = url + "/v1" if urlsplit(url).path in ("", "/") else url
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.api_key_env = api_key_env
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._key_is_set = bool(os.environ.get(api_key_env))
        # local servers accept any key; the client insists on a non-empty one
        self._client = openai.OpenAI(
            api_key=os.environ.get(api_key_env) or "EMPTY",
            base_url=self.base_url,
            max_retries=0,
            timeout=timeout,
        )
        # set once a server rejects max_tokens=0 for scoring, so later requests skip the failed try
        self._score_max_tokens = 0
        # cleared once the server rejects response_format json_schema (structured generation)
        self._structured_ok = True

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.name!r}, base_url={self.base_url!r}, chat={self.chat})"

    def describe(self) -> dict:
        return {"backend": self.kind, "model": self.name, "chat": self.chat, "base_url": self.base_url}

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ plumbing
    def _scrub(self, text: str) -> str:
        key = self._client.api_key if self._key_is_set else ""  # the key the requests actually carry
        return text.replace(key, "***") if isinstance(key, str) and len(key) >= 4 else text

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """fn over items on `concurrency` threads, results in input order; the first error cancels the rest."""
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self.backoff_max)
        # "equal jitter": half fixed, half random, so concurrent workers spread out but never hammer
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (state.attempt_number - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: %s; retrying in %.2f s (attempt %d of %d)",
            self.base_url, self._scrub(str(exc)), state.upcoming_sleep, state.attempt_number + 1,
            self.max_retries + 1,
        )

    def _attempt(self, endpoint: str, body: dict) -> dict:
        """One HTTP request; transient failures become _Transient, other HTTP errors _HTTPStatus."""
        url = f"{self.base_url}/{endpoint}"
        api = self._client.chat.completions if endpoint == "chat/completions" else self._client.completions
        try:
            raw = api.with_raw_response.create(**body)
        except openai.APIStatusError as e:
            detail = self._scrub(_server_message(e))
            if e.status_code in _RETRY_STATUS or e.status_code >= 500:
                raise _Transient(f"HTTP {e.status_code}: {detail}", _retry_after(e.response.headers)) from None
            hint = ""
            if e.status_code in (401, 403):
                state = "is set but was rejected" if self._key_is_set else "is not set"
                hint = f" (the API key is read from the environment variable {self.api_key_env}, which {state})"
            elif e.status_code == 404:
                hint = f" (check the model name {self.name!r} and that the base URL is the server's /v1 root)"
            raise _HTTPStatus(f"HTTP {e.status_code} from {url}: {detail}{hint}", e.status_code, detail) from None
        except openai.APITimeoutError:
            raise _Transient(f"no response within {self.timeout:g} s") from None
        except openai.APIConnectionError as e:
            raise _Transient(f"connection failed ({self._scrub(str(e.__cause__ or e))})") from None
        except openai.APIResponseValidationError as e:
            raise _Transient(f"unparsable response ({self._scrub(str(e))})") from None
        try:
            data = json.loads(raw.http_response.text)
        except ValueError as e:
            raise _Transient(f"unparsable response (invalid JSON: {e})") from None
        if not isinstance(data, dict):
            raise _Transient(f"unparsable response (JSON {type(data).__name__}, not an object)")
        choices = data.get("choices")
        field = "message" if endpoint == "chat/completions" else "text"
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict) or field not in choices[0]:
            extra = f": {self._scrub(str(data['error']))[:300]}" if data.get("error") else ""
            raise _Transient(f"unparsable response (no choices[0].{field}){extra}")
        return data

    def _post(self, endpoint: str, body: dict) -> dict:
        """_attempt with retries; gives up with a BackendError naming the last failure."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, endpoint, body)
        except _Transient as e:
            n = self.max_retries + 1
            raise BackendError(
                f"request to {self.base_url}/{endpoint} failed after {n} attempt{'s' * (n > 1)}; last error: {e}"
            ) from None

    # ------------------------------------------------------------------ generation
    def generate(
        self, prompts: Sequence[Prompt], params: GenerationParams, *, json_schema: dict | None = None
    ) -> list[Generation]:
        """`json_schema`: ask for structured output (`response_format` json_schema, as vLLM, llama.cpp
        server and OpenAI accept); a server that rejects the field is asked again without it, and
        later calls leave it out (the caller must read JSON from free text then)."""
        common: dict = {
            "model": self.name,
            "temperature": float(params.temperature),
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "seed": params.seed,
        }
        if params.stop:
            common["stop"] = list(params.stop)
        # A server cannot stop on a regex; the text is cut after its first match instead, so that
        # what follows (a second "Option N" in an explanation) is read by no extractor, as with
        # the local backends, which stop there. The server's token counts are what it generated.
        stop_re = stop_regex(params)

        def run(prompt: Prompt) -> Generation:
            if self.chat:
                data = self._post_structured({**common, "messages": chat_messages(prompt)}, json_schema)
                text = (data["choices"][0].get("message") or {}).get("content") or ""
            else:
                data = self._post("completions", {**common, "prompt": self.render(prompt)})
                text = data["choices"][0].get("text") or ""
            usage = data.get("usage") or {}
            finish = data["choices"][0].get("finish_reason")
            if stop_re is not None and (m := stop_re.search(text)) is not None and m.end() < len(text):
                text, finish = text[: m.end()], "stop_regex"
            return Generation(
                text=text,
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                meta={"finish_reason": finish},
            )

        return self._map(run, list(prompts))

    def _post_structured(self, body: dict, json_schema: dict | None) -> dict:
        if json_schema is None or not self._structured_ok:
            return self._post("chat/completions", body)
        fmt = {"type": "json_schema", "json_schema": {"name": "reply", "schema": json_schema}}
        try:
            return self._post("chat/completions", {**body, "response_format": fmt})
        except _HTTPStatus as e:
            if e.status not in (400, 422) or not re.search(r"response_format|json_schema|schema", e.detail, re.I):
                raise
            self._structured_ok = False
            log.warning("%s does not take response_format json_schema (%s); asking for JSON in text",
                        self.base_url, e.detail[:200])
            return self._post("chat/completions", body)

    # ------------------------------------------------------------------ scoring
    def _unsupported(self, why: str) -> BackendUnsupported:
        return BackendUnsupported(
            f"the server at {self.base_url} does not return prompt log-probabilities (needed for --method "
            f"loglik/loglik-norm): {why}; use --method generate, or serve the model with vLLM / llama.cpp "
            f"server which do"
        )

    def _score(self, context: str, continuation: str) -> tuple[ContinuationScore, int]:
        full = context + continuation
        body = {"model": self.name, "prompt": full, "echo": True, "logprobs": 1, "temperature": 0.0}
        max_tokens = self._score_max_tokens  # local: other threads may flip the shared flag meanwhile
        for _ in range(2):
            try:
                data = self._post("completions", {**body, "max_tokens": max_tokens})
                break
            except _HTTPStatus as e:
                msg = e.detail.lower()
                if e.status == 400 and max_tokens == 0 and re.search(r"max[_ ]?tokens", msg):
                    # the one generated token lies past the prompt and is ignored below
                    max_tokens = self._score_max_tokens = 1
                    continue
                if (e.status in (400, 404, 422) and re.search(r"echo|logprob", msg)) or e.status in (405, 501) or (
                    e.status == 404 and "model" not in msg
                ):
                    raise self._unsupported(f"HTTP {e.status}: {e.detail}") from None
                raise
        choice = data["choices"][0]
        lp = choice.get("logprobs") or {}
        offsets, token_lps = lp.get("text_offset"), lp.get("token_logprobs")
        if not offsets or not token_lps or len(offsets) != len(token_lps):
            raise self._unsupported("its response has no logprobs.token_logprobs/text_offset for the prompt")
        if isinstance(choice.get("text"), str) and not choice["text"].startswith(full):
            raise self._unsupported("it did not echo the prompt back, so tokens cannot be aligned with the text")
        ctx_end, full_end = len(context), len(full)
        first = next((i for i, o in enumerate(offsets) if o >= ctx_end), len(offsets))
        end = next((i for i, o in enumerate(offsets) if o >= full_end), len(offsets))
        # A token straddling the context/continuation boundary (continuation not starting at a token
        # boundary) also carries continuation characters: count it rather than lose them.
        if continuation and first > 0 and (first == len(offsets) or offsets[first] > ctx_end):
            first -= 1
        idx = range(first, end)
        tokens, tops = lp.get("tokens"), lp.get("top_logprobs")
        greedy = bool(tokens and tops) and all(
            isinstance(tops[i], dict) and tokens[i] in tops[i] and tops[i][tokens[i]] >= max(tops[i].values())
            for i in idx
        )
        score = ContinuationScore(
            logprob=float(sum(token_lps[i] or 0.0 for i in idx)),  # None only for the very first token
            n_tokens=len(idx),
            is_greedy=greedy,
        )
        return score, sum(1 for o in offsets if o < ctx_end)

    def loglikelihood(
        self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]]
    ) -> list[LoglikResult]:
        if len(prompts) != len(continuations):
            raise BackendError(f"{len(prompts)} prompts but {len(continuations)} continuation lists")
        contexts = [self.render(p) for p in prompts]
        jobs = [(i, cont) for i, conts in enumerate(continuations) for cont in conts]
        scored = self._map(lambda job: self._score(contexts[job[0]], job[1]), jobs)
        results: list[LoglikResult] = []
        pos = 0
        for conts in continuations:
            mine = scored[pos : pos + len(conts)]
            pos += len(conts)
            results.append(LoglikResult(scores=tuple(s for s, _ in mine), prompt_tokens=mine[0][1] if mine else 0))
        return results
