"""The hf backend on the real SmolLM2: cached-prefix scoring and generation must equal plain,
uncached computation (the library's own forward pass and `generate` are the oracles)."""

import pytest
import torch

from proteinlm.bench.loaders import load_bench
from proteinlm.bench.prompts import LETTER, OFFICIAL
from proteinlm.models.base import GenerationParams

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def questions():
    # Mixed lengths, 4 and 6 options, Chinese and a sequence question: padding and prefix reuse
    # must not leak between rows.
    recs = load_bench("sample").records
    picks = [r for r in recs if len(r.options) == 6][:1] + [r for r in recs if len(r.options) == 4][:1]
    picks += [r for r in recs if "<seq>" in r.question][:1] + [r for r in recs if "蛋白" in r.question][:1]
    return picks


def plain_logprobs(backend, prompt, continuations):
    """Uncached, unpadded, one sequence at a time. Continuations that differ only in their last
    token share one forward pass (its last position predicts every one of them)."""
    out, memo = [], {}
    for c in continuations:
        ctx, cont = backend._encode_pair(backend.render(prompt), c)
        key = tuple(ctx + cont[:-1])
        if key not in memo:
            with torch.inference_mode():
                logits = backend.model(torch.tensor([list(key)])).logits[0].float()
            memo[key] = torch.log_softmax(logits, dim=-1)
        lp = memo[key]
        out.append(sum(float(lp[len(ctx) - 1 + k, t]) for k, t in enumerate(cont)))
    return out


@pytest.mark.parametrize("fmt", [OFFICIAL, LETTER], ids=["official", "letter"])
def test_label_scores_equal_plain_forward(smollm2, questions, fmt):
    prompts = [fmt.prompt(q, chat=smollm2.chat, for_scoring=True) for q in questions]
    conts = [fmt.label_continuations(q) for q in questions]
    results = smollm2.loglikelihood(prompts, conts)
    for prompt, cs, res in zip(prompts, conts, results):
        assert len(res.scores) == len(cs)
        assert res.prompt_tokens == len(smollm2.encode(smollm2.render(prompt).rstrip()))
        assert [s.logprob for s in res.scores] == pytest.approx(plain_logprobs(smollm2, prompt, cs), abs=2e-3)


def test_option_text_scores_equal_plain_forward(smollm2, questions):
    prompts = [OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=False) for q in questions]
    conts = [[" " + o for o in q.options] for q in questions]
    results = smollm2.loglikelihood(prompts, conts)
    for prompt, cs, res in zip(prompts, conts, results):
        assert [s.n_tokens for s in res.scores] == [len(smollm2._encode_pair(smollm2.render(prompt), c)[1]) for c in cs]
        assert [s.logprob for s in res.scores] == pytest.approx(plain_logprobs(smollm2, prompt, cs), abs=2e-3)


def test_greedy_generation_equals_transformers_generate(smollm2, questions):
    prompts = [OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=False) for q in questions[:4]]
    params = GenerationParams(max_new_tokens=12)
    ours = smollm2.generate(prompts, params)
    for prompt, gen in zip(prompts, ours):
        ids = torch.tensor([smollm2.encode(smollm2.render(prompt))])
        ref = smollm2.model.generate(ids, max_new_tokens=12, do_sample=False, attention_mask=torch.ones_like(ids))
        expected = smollm2.tokenizer.decode(ref[0, ids.shape[1]:], skip_special_tokens=True)
        assert gen.text == expected
        assert gen.prompt_tokens == ids.shape[1]
        assert 0 < gen.completion_tokens <= 12


def test_chat_template_applied_and_raw_mode(smollm2, questions):
    p = OFFICIAL.prompt(questions[0], chat=True, for_scoring=True)
    text = smollm2.render(p)
    assert smollm2.chat and text.startswith("<|im_start|>") and text.endswith("<|im_start|>assistant\nThe correct option is Option")
    smollm2.chat = False
    try:
        raw = smollm2.render(OFFICIAL.prompt(questions[0], chat=False, for_scoring=True))
    finally:
        smollm2.chat = True
    assert raw.startswith("Answer the multiple-choice question") and raw.endswith("The correct option is: Option")


def test_sampling_is_seeded(smollm2, questions):
    prompts = [OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=False) for q in questions[:2]]
    a = smollm2.generate(prompts, GenerationParams(max_new_tokens=8, temperature=1.0, seed=7))
    b = smollm2.generate(prompts, GenerationParams(max_new_tokens=8, temperature=1.0, seed=7))
    assert [g.text for g in a] == [g.text for g in b]


def test_stop_strings_cut_the_output(smollm2, questions):
    prompts = [OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=False) for q in questions[:2]]
    gens = smollm2.generate(prompts, GenerationParams(max_new_tokens=20, stop=("option",)))
    for g in gens:
        assert "option" not in g.text


def test_stop_at_answer_is_a_prefix_of_the_full_reply(smollm2, questions):
    import re

    prompts = [OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=False) for q in questions[:4]]
    full = smollm2.generate(prompts, GenerationParams(max_new_tokens=24))
    short = smollm2.generate(prompts, GenerationParams(max_new_tokens=24, stop_regex=OFFICIAL.answer_regex))
    for f, s in zip(full, short):
        assert f.text.startswith(s.text)
        if re.search(OFFICIAL.answer_regex, f.text):
            assert re.search(OFFICIAL.answer_regex, s.text) and s.completion_tokens <= f.completion_tokens


def test_local_directory_and_missing_model(smollm2, monkeypatch):
    from proteinlm.errors import BackendError
    from proteinlm.models import load_backend
    from proteinlm.models.smollm2 import gguf_cache_dir
    from proteinlm.models.smollm2 import smollm2_gguf_path

    converted = gguf_cache_dir(smollm2_gguf_path())  # a plain transformers directory
    local = load_backend(str(converted), "hf")
    assert local.describe()["gguf_file"] is None and local.chat
    prompt = OFFICIAL.prompt(load_bench("sample").records[0], chat=True, for_scoring=True)
    conts = [" 1", " 2"]
    a = local.loglikelihood([prompt], [conts])[0]
    b = smollm2.loglikelihood([prompt], [conts])[0]
    assert [s.logprob for s in a.scores] == pytest.approx([s.logprob for s in b.scores], abs=1e-4)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackendError, match="local model directory or .gguf"):
        load_backend("no-such-owner/no-such-model", "hf")
    with pytest.raises(BackendError, match="GGUF file not found"):
        load_backend("/nonexistent/model.gguf", "hf")


def test_option_10_can_win_label_scoring(smollm2):
    """SmolLM2 writes " 10" as " ", "1", "0": P(" 10") is part of P(" 1"), so plain labels never
    pick option 10. The complete labels `loglik` scores (" 1." .. " 10.") let it win."""
    from proteinlm.bench.scoring import score
    from proteinlm.records import MCQ

    words = "one two three four five six seven eight nine ten".split()
    q = MCQ("ten", "Which option is number ten? Answer option 10.", tuple(f"This is option number {w}" for w in words), 9)
    prompt = OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=True)
    plain, complete = smollm2.loglikelihood([prompt, prompt], [[f" {i}" for i in range(1, 11)], OFFICIAL.label_continuations(q)])
    assert plain.scores[9].logprob < plain.scores[0].logprob
    answer = {"prompt_hash": "-", "option_logprobs": [s.logprob for s in complete.scores], "prompt_tokens": 0}
    pred = score(q, answer, OFFICIAL, "loglik")
    assert pred["parsed"] == "10" and pred["correct"]


def test_decode_prompt_gives_the_text_the_published_rule_strips(smollm2, questions):
    prompts = [OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=False) for q in questions[:2]]
    gens = smollm2.generate(prompts, GenerationParams(max_new_tokens=6, decode_prompt=True))
    for p, g in zip(prompts, gens):
        decoded = g.meta["decoded_with_prompt"]
        assert p.text in decoded and "<|im_start|>" not in decoded  # special tokens skipped, as published
        assert decoded.rstrip().endswith(g.text.strip())
    assert "decoded_with_prompt" not in smollm2.generate(prompts[:1], GenerationParams(max_new_tokens=2))[0].meta


def test_no_cache_deprecation_warning(smollm2, questions):
    """The key/value cache goes by the name transformers reads now (no FutureWarning per run)."""
    import warnings

    q = questions[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        smollm2.loglikelihood([OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=True)], [OFFICIAL.label_continuations(q)])
        smollm2.generate([OFFICIAL.prompt(q, chat=smollm2.chat, for_scoring=False)], GenerationParams(max_new_tokens=3))
    assert not [w for w in caught if "past_key_values" in str(w.message)]
