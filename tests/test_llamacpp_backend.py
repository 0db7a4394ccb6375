"""The llamacpp backend on the real SmolLM2 GGUF. Oracles: the hf backend on the same file (same
weights, dequantised: scores agree to quantisation noise, the chat prompt is the same text) and
llama.cpp's own forward pass without our KV-cache reuse.

llama-cpp-python is an optional extra; CI installs it and sets PROTEINLM_REQUIRE_LLAMACPP=1, so
there the tests fail rather than skip when it is missing."""

from __future__ import annotations

import importlib.util
import os
import re

import numpy as np
import pytest

from proteinlm.bench.loaders import load_bench
from proteinlm.bench.prompts import OFFICIAL
from proteinlm.errors import BackendError
from proteinlm.models.base import GenerationParams, Prompt

pytestmark = pytest.mark.model

if importlib.util.find_spec("llama_cpp") is None:
    if os.environ.get("PROTEINLM_REQUIRE_LLAMACPP"):
        raise RuntimeError("PROTEINLM_REQUIRE_LLAMACPP is set but llama-cpp-python is not installed")
    pytest.skip("llama-cpp-python not installed (pip install 'proteinlm[llamacpp]')", allow_module_level=True)


@pytest.fixture(scope="module")
def lc():
    from proteinlm.models import load_backend

    backend = load_backend("smollm2", "llamacpp", threads=2, n_ctx=2048)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def questions():
    recs = load_bench("sample").records
    picks = [r for r in recs if len(r.options) == 6][:1] + [r for r in recs if "<seq>" in r.question][:1]
    return picks + [r for r in recs if "蛋白" in r.question][:1]


def fresh_logprobs(backend, prompt, continuations):
    """Each continuation from an empty KV cache, one forward pass: no cache reuse (continuations
    that differ only in their last token share the pass, whose last position predicts them all)."""
    out, memo = [], {}
    for c in continuations:
        ctx, cont = backend._encode_pair(backend.render(prompt), c)
        key = (tuple(ctx + cont[:-1]), len(ctx))
        if key not in memo:
            backend._held, backend._logits = [], {}
            memo[key] = backend._run(list(key[0]), range(len(ctx) - 1, len(key[0])))
        rows = memo[key]
        lp = [r.astype(np.float64) - r.max() - np.log(np.exp(r.astype(np.float64) - r.max()).sum()) for r in rows]
        out.append(sum(row[t] for row, t in zip(lp, cont)))
    return out


def test_chat_prompt_is_the_hf_backends_text(lc, smollm2, questions):
    for q in questions:
        p = OFFICIAL.prompt(q, chat=True, for_scoring=True)
        assert lc.render(p) == smollm2.render(p)
        assert lc.encode(lc.render(p)) == smollm2.encode(smollm2.render(p))  # same tokens, special ones included


def test_cached_scores_equal_a_fresh_forward_pass(lc, questions):
    prompts = [OFFICIAL.prompt(q, chat=lc.chat, for_scoring=True) for q in questions]
    conts = [[f" {i + 1}" for i in range(len(q.options))] for q in questions]
    results = lc.loglikelihood(prompts, conts)
    for prompt, cs, res in zip(prompts, conts, results):
        assert [s.logprob for s in res.scores] == pytest.approx(fresh_logprobs(lc, prompt, cs), abs=2e-3)
        assert res.prompt_tokens == len(lc._encode_pair(lc.render(prompt), cs[0])[0])
    # the same questions again, in reverse order (other cache states): the same scores
    again = lc.loglikelihood(prompts[::-1], conts[::-1])[::-1]
    for a, b in zip(results, again):
        assert [s.logprob for s in a.scores] == pytest.approx([s.logprob for s in b.scores], abs=2e-3)


def test_scores_agree_with_the_hf_backend(lc, smollm2, questions):
    """Same weights: llama.cpp computes with its quantised kernels, transformers with the
    dequantised float32 tensors, so the numbers differ by quantisation noise only."""
    prompts = [OFFICIAL.prompt(q, chat=True, for_scoring=False) for q in questions]
    conts = [[o.split(":", 1)[-1] for o in q.options] for q in questions]  # option texts, several tokens
    ours, ref = lc.loglikelihood(prompts, conts), smollm2.loglikelihood(prompts, conts)
    for a, b in zip(ours, ref):
        assert [s.n_tokens for s in a.scores] == [s.n_tokens for s in b.scores]
        la, lb = np.array([s.logprob for s in a.scores]), np.array([s.logprob for s in b.scores])
        assert np.abs(la - lb).max() < 0.05 * np.abs(lb).max() + 0.5
        assert int(la.argmax()) == int(lb.argmax())


def test_greedy_generation_is_greedy_and_stops(lc, questions):
    prompts = [OFFICIAL.prompt(q, chat=lc.chat, for_scoring=False) for q in questions]
    gens = lc.generate(prompts, GenerationParams(max_new_tokens=12))
    for p, g in zip(prompts, gens):
        assert g.text.strip() and 0 < g.completion_tokens <= 12
        assert g.prompt_tokens == len(lc.encode(lc.render(p)))
        # what greedy decoding wrote is, token by token, the argmax: scoring it says so
        (res,) = lc.loglikelihood([p], [[g.text]])
        assert res.scores[0].is_greedy, g.text
    assert [g.text for g in lc.generate(prompts, GenerationParams(max_new_tokens=12))] == [g.text for g in gens]
    short = lc.generate(prompts, GenerationParams(max_new_tokens=12, stop_regex=r"\w\W"))
    for f, s in zip(gens, short):
        assert f.text.startswith(s.text) and re.search(r"\w\W", s.text)
        assert s.completion_tokens < f.completion_tokens or not re.search(r"\w\W", f.text[:-1])
    cut = lc.generate(prompts[:1], GenerationParams(max_new_tokens=12, stop=(gens[0].text.split()[1],)))
    assert cut[0].text == gens[0].text[: gens[0].text.index(gens[0].text.split()[1])]


def test_sampling_is_seeded(lc, questions):
    prompts = [OFFICIAL.prompt(q, chat=lc.chat, for_scoring=False) for q in questions[:2]]
    a = lc.generate(prompts, GenerationParams(max_new_tokens=8, temperature=1.0, seed=7))
    b = lc.generate(prompts, GenerationParams(max_new_tokens=8, temperature=1.0, seed=7))
    assert [g.text for g in a] == [g.text for g in b]
    hot = [GenerationParams(max_new_tokens=8, temperature=1.5, seed=s) for s in range(4)]
    c = [lc.generate(prompts[:1], params)[0].text for params in hot]
    assert len(set(c)) > 1  # the seed matters


def test_decode_prompt_gives_prompt_and_reply(lc, questions):
    prompts = [OFFICIAL.prompt(q, chat=lc.chat, for_scoring=False) for q in questions[:1]]
    (g,) = lc.generate(prompts, GenerationParams(max_new_tokens=6, decode_prompt=True))
    decoded = g.meta["decoded_with_prompt"]
    assert prompts[0].text in decoded and decoded.rstrip().endswith(g.text.strip()) and "<|im_start|>" not in decoded


def test_raw_mode_describe_and_errors(lc, tmp_path):
    from proteinlm.models import load_backend
    from proteinlm.models.smollm2 import smollm2_gguf_path

    d = lc.describe()
    assert d["backend"] == "llamacpp" and d["model"] == "smollm2" and d["weights"] and d["n_ctx"] == 2048
    raw = load_backend(str(smollm2_gguf_path()), "llamacpp", chat=False, n_ctx=512)
    try:
        p = Prompt("Hello", system="Sys", answer_prefix=" A:")
        assert raw.render(p) == "Sys\n\nHello A:"
        with pytest.raises(BackendError, match="does not fit the context of 512"):
            raw.loglikelihood([Prompt("word " * 600)], [[" x"]])
    finally:
        raw.close()
    with pytest.raises(BackendError, match="GGUF file not found"):
        load_backend(str(tmp_path / "nope.gguf"), "llamacpp")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file")
    with pytest.raises(BackendError, match="cannot load GGUF model"):
        load_backend(str(bad), "llamacpp")


def test_cli_bench_run(tmp_path):
    import json

    from typer.testing import CliRunner

    from proteinlm.cli import app

    out = tmp_path / "run"
    args = ["bench", "--backend", "llamacpp", "--model", "smollm2", "--bench", "sample", "--limit", "4",
            "--threads", "2", "--n-ctx", "2048", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 4 and summary["backend"] == "llamacpp" and summary["backend_details"]["n_ctx"] == 2048
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 4 and all(p["parsed"] is not None for p in preds)
