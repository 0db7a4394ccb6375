"""The OpenAI-compatible backend against a local fake server (tests/fake_openai_server.py)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import FakeOpenAIServer  # noqa: E402

from proteinlm.errors import BackendError, BackendUnsupported  # noqa: E402
from proteinlm.models.base import GenerationParams, Prompt  # noqa: E402
from proteinlm.models.openai_api import OpenAIBackend  # noqa: E402

KEY = "sk-test-TOPSECRET-0123456789"


@pytest.fixture
def server():
    srv = FakeOpenAIServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def make(server, monkeypatch):
    """Build backends pointed at the fake server (fast backoff), closed at teardown."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    made = []

    def _make(**kw):
        kw.setdefault("backoff_base", 0.01)
        kw.setdefault("backoff_max", 0.05)
        kw.setdefault("timeout", 5.0)
        b = OpenAIBackend("fake-model", kw.pop("base_url", server.base_url), **kw)
        made.append(b)
        return b

    yield _make
    for b in made:
        b.close()


def expected_score(context: str, continuation: str) -> tuple[float, int]:
    """What the fake server's numbers give for the continuation tokens (offset >= len(context))."""
    toks = [(o, lp) for _, o, lp in FakeOpenAIServer.score(context + continuation) if o >= len(context)]
    return sum(lp for _, lp in toks), len(toks)


# ---------------------------------------------------------------------------------- generation
def test_generate_preserves_order_under_concurrency(server, make):
    server.delay = 0.05  # long enough that requests overlap
    answers = [(i * 7) % 4 + 1 for i in range(20)]
    prompts = [Prompt(f"Question {i} [[answer={a}]]", system="You are a biologist.") for i, a in enumerate(answers)]
    params = GenerationParams(max_new_tokens=12, temperature=0, seed=7, stop=("\n\n",))
    gens = make(concurrency=4).generate(prompts, params)
    assert [g.text for g in gens] == [f"The correct option is Option {a}." for a in answers]
    assert len(server.requests) == 20
    assert 1 < server.max_inflight <= 4
    assert all(g.completion_tokens == 6 and g.prompt_tokens > 0 for g in gens)
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    body = req["body"]
    assert body["messages"][0] == {"role": "system", "content": "You are a biologist."}
    assert body["messages"][1]["role"] == "user" and body["messages"][1]["content"].startswith("Question")
    assert body["temperature"] == 0.0 and body["max_tokens"] == 12 and body["seed"] == 7
    assert body["stop"] == ["\n\n"] and body["top_p"] == 1.0 and body["model"] == "fake-model"


def test_generate_completions_mode_sends_rendered_prompt(server, make):
    backend = make(chat=False)
    prompt = Prompt("Which residue? [[answer=2]]", system="Sys")
    (gen,) = backend.generate([prompt], GenerationParams(stop=("Option",)))
    assert gen.text == "The correct option is "  # the server applied the stop sequence
    (req,) = server.requests
    assert req["path"] == "/v1/completions"
    assert req["body"]["prompt"] == backend.render(prompt) == "Sys\n\nWhich residue? [[answer=2]]"
    backend.generate([prompt], GenerationParams())  # no stop sequences: the field is left out
    assert "stop" not in server.requests[1]["body"]


@pytest.mark.parametrize("chat", [True, False])
def test_stop_regex_cuts_the_text_after_the_answer(server, make, chat):
    """The server cannot stop on a regex: the text is cut after the first match, so that a second
    "Option N" in what the model went on to say is never extracted."""
    from proteinlm.bench.prompts import load_prompt_format

    server.tail = " Option 2 is wrong because it names the cofactor.\nThe correct option is Option 2."
    regex = load_prompt_format("official").answer_regex
    prompt = Prompt("Which? [[answer=3]]")
    (gen,) = make(chat=chat).generate([prompt], GenerationParams(stop_regex=regex))
    assert gen.text == "The correct option is Option 3."
    assert gen.meta["finish_reason"] == "stop_regex"
    assert gen.completion_tokens > len("The correct option is Option 3.".split())  # what the server generated
    assert "stop_regex" not in server.requests[0]["body"]
    (gen,) = make(chat=chat).generate([prompt], GenerationParams())  # no regex: the whole text
    assert gen.text.endswith("Option 2.") and gen.meta["finish_reason"] == "stop"
    server.tail = ""
    (gen,) = make(chat=chat).generate([prompt], GenerationParams(stop_regex=regex))
    assert gen.text == "The correct option is Option 3." and gen.meta["finish_reason"] == "stop"


def test_base_url_without_path_gets_v1_and_describe(server, make):
    root = server.base_url.removesuffix("/v1")
    backend = make(base_url=root, chat=False)
    assert backend.describe() == {"backend": "openai", "model": "fake-model", "chat": False, "base_url": server.base_url}
    assert backend.generate([Prompt("[[answer=4]]")], GenerationParams())[0].text.endswith("Option 4.")


# ---------------------------------------------------------------------------------- retries
@pytest.mark.parametrize("fault", ["429", "500", "503", "timeout", "malformed", "disconnect"])
def test_transient_failures_are_retried(server, make, fault):
    server.plan = [fault, fault]
    (gen,) = make(timeout=0.5, max_retries=3).generate([Prompt("[[answer=3]]")], GenerationParams())
    assert gen.text == "The correct option is Option 3."
    assert len(server.requests) == 3 and server.plan == []


def test_mixed_plan_recovers_with_one_request_per_attempt(server, make):
    server.plan = ["429", "500", "timeout", "malformed", "ok"]
    (gen,) = make(timeout=0.5, max_retries=5).generate([Prompt("[[answer=1]]")], GenerationParams())
    assert gen.text.endswith("Option 1.")
    assert len(server.requests) == 5


def test_retry_after_is_honoured_and_capped(server, make):
    # Retry-After: 0 overrides a (deliberately huge) exponential backoff ...
    server.plan = ["429", "429"]
    t0 = time.monotonic()
    make(backoff_base=30.0, backoff_max=60.0).generate([Prompt("x")], GenerationParams())
    assert time.monotonic() - t0 < 5 and len(server.requests) == 3
    # ... and a long Retry-After is capped at backoff_max
    server.retry_after, server.plan = "3600", ["429"]
    t0 = time.monotonic()
    make(backoff_max=0.2).generate([Prompt("x")], GenerationParams())
    assert time.monotonic() - t0 < 5 and len(server.requests) == 5


@pytest.mark.parametrize("status", ["400", "404"])
def test_client_errors_are_not_retried(server, make, status):
    server.plan = [status]
    with pytest.raises(BackendError, match=f"HTTP {status} from {server.base_url}/chat/completions"):
        make().generate([Prompt("x")], GenerationParams())
    assert len(server.requests) == 1


def test_401_names_the_env_var_and_is_not_retried(server, make, monkeypatch):
    server.require_key = "sk-the-right-one"
    with pytest.raises(BackendError) as err:
        make().generate([Prompt("x")], GenerationParams())
    msg = str(err.value)
    assert "HTTP 401" in msg and "OPENAI_API_KEY" in msg and "is set but was rejected" in msg
    assert KEY not in msg  # the fake server echoes the presented key; the client must scrub it
    assert len(server.requests) == 1
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(BackendError, match="OPENAI_API_KEY, which is not set"):
        make().generate([Prompt("x")], GenerationParams())


def test_exhausted_retries_name_the_last_failure(server, make):
    server.plan = ["500", "500", "500"]
    with pytest.raises(BackendError, match=r"failed after 3 attempts; last error: HTTP 500: injected HTTP 500"):
        make(max_retries=2).generate([Prompt("x")], GenerationParams())
    assert len(server.requests) == 3
    server.plan = ["503", "malformed"]
    with pytest.raises(BackendError, match=r"after 2 attempts; last error: unparsable response \(invalid JSON"):
        make(max_retries=1).generate([Prompt("x")], GenerationParams())
    assert len(server.requests) == 5


# ---------------------------------------------------------------------------------- loglikelihood
@pytest.mark.parametrize("chat", [False, True])  # scoring always uses /completions with the raw render
def test_loglik_sums_continuation_tokens_in_order(server, make, chat):
    prompts = [
        Prompt("Which amino acid is basic?", answer_prefix=" The correct option is Option"),
        Prompt("Short", system="You are helpful.", answer_prefix=" Answer:"),
        Prompt("A much longer question about protein folding and chaperones", answer_prefix=" Option"),
    ]
    conts = [[" 1", " 2", " bad 3"], [" yes", " no"], [" 4 5 6", " 7"]]
    backend = make(chat=chat, concurrency=4)
    results = backend.loglikelihood(prompts, conts)
    assert len(server.requests) == 7
    for prompt, cs, res in zip(prompts, conts, results):
        ctx = backend.render(prompt)
        assert res.prompt_tokens == len(FakeOpenAIServer.score(ctx))
        for cont, sc in zip(cs, res.scores, strict=True):
            lp, n = expected_score(ctx, cont)
            whole = sum(x for _, _, x in FakeOpenAIServer.score(ctx + cont) if x is not None)
            assert sc.logprob == pytest.approx(lp) and sc.n_tokens == n
            assert sc.logprob != pytest.approx(whole)  # context tokens are excluded
            assert sc.is_greedy == ("bad" not in cont)
    sent = {r["body"]["prompt"] for r in server.requests}
    assert sent == {backend.render(p) + c for p, cs in zip(prompts, conts) for c in cs}
    for r in server.requests:
        assert r["path"] == "/v1/completions"
        assert (r["body"]["echo"], r["body"]["logprobs"], r["body"]["max_tokens"]) == (True, 1, 0)


def test_loglik_token_straddling_the_boundary_is_counted(make):
    (res,) = make(chat=False).loglikelihood([Prompt("Hello wor")], [["ld again"]])
    toks = FakeOpenAIServer.score("Hello world again")  # "Hello", " world", " again"
    assert res.scores[0].n_tokens == 2
    assert res.scores[0].logprob == pytest.approx(toks[1][2] + toks[2][2])


def test_loglik_falls_back_to_max_tokens_1(server, make):
    server.logprobs_mode = "no_max_tokens_0"
    backend = make(chat=False, concurrency=1)
    (res,) = backend.loglikelihood([Prompt("Pick one", answer_prefix=" Option")], [[" 1", " 2"]])
    for cont, sc in zip([" 1", " 2"], res.scores):
        assert (sc.logprob, sc.n_tokens) == pytest.approx(expected_score("Pick one Option", cont))
    # the rejection is remembered: 0 once, then 1 for every request
    assert [r["body"]["max_tokens"] for r in server.requests] == [0, 1, 1]


@pytest.mark.parametrize("mode", ["unsupported", "missing", "no_route"])
def test_loglik_unsupported_is_explained(server, make, mode):
    base_url = server.base_url
    if mode == "no_route":
        base_url += "/nowhere"  # a server without a completions endpoint answers 404
    else:
        server.logprobs_mode = mode
    backend = make(base_url=base_url, chat=False)
    with pytest.raises(BackendUnsupported) as err:
        backend.loglikelihood([Prompt("q")], [[" a"]])
    msg = str(err.value)
    assert f"the server at {base_url} does not return prompt log-probabilities" in msg
    assert "--method generate" in msg and "vLLM" in msg
    assert len(server.requests) == 1  # not retried


# ---------------------------------------------------------------------------------- the API key
def test_api_key_is_sent_but_never_exposed(server, make, caplog):
    caplog.set_level(logging.DEBUG)  # including the openai / http client loggers
    backend = make(timeout=0.5)
    server.plan = ["429", "timeout"]  # so retry warnings are logged
    backend.generate([Prompt("x")], GenerationParams())
    assert {r["headers"].get("authorization") for r in server.requests} == {f"Bearer {KEY}"}
    server.require_key = "something-else"
    with pytest.raises(BackendError) as err:
        backend.generate([Prompt("x")], GenerationParams())
    server.require_key, server.logprobs_mode = None, "unsupported"
    with pytest.raises(BackendUnsupported) as unsup:
        backend.loglikelihood([Prompt("x")], [[" y"]])
    assert "retrying" in caplog.text
    for text in (json.dumps(backend.describe()), repr(backend), str(err.value), str(unsup.value), caplog.text):
        assert KEY not in text and "TOPSECRET" not in text


def test_api_key_env_is_configurable(server, make, monkeypatch):
    monkeypatch.setenv("MY_SERVER_KEY", "local-key-42")
    make(api_key_env="MY_SERVER_KEY").generate([Prompt("x")], GenerationParams())
    monkeypatch.delenv("OPENAI_API_KEY")
    make().generate([Prompt("x")], GenerationParams())  # local servers need no key: a placeholder is sent
    assert [r["headers"]["authorization"] for r in server.requests] == ["Bearer local-key-42", "Bearer EMPTY"]
