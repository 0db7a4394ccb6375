"""Run directories, the answer cache and resume after a kill (real CLI, real SmolLM2)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proteinlm.bench.loaders import load_bench
from proteinlm.bench.prompts import OFFICIAL
from proteinlm.bench.runner import RunSettings, cache_key, run_bench, score
from proteinlm.models.base import Backend, ContinuationScore, Generation, GenerationParams, LoglikResult


class ScriptedBackend(Backend):
    """A deterministic stand-in for runner logic only (model behaviour is tested on SmolLM2)."""

    kind, name = "scripted", "scripted"

    def __init__(self, answers):
        self.answers = answers  # question text -> generated reply
        self.asked = []

    def loglikelihood(self, prompts, continuations):
        self.asked += [p.text for p in prompts]
        return [LoglikResult(tuple(ContinuationScore(-float(i), 1) for i in range(len(c))), 10) for c in continuations]

    def generate(self, prompts, params):
        self.asked += [p.text for p in prompts]
        return [Generation(next(v for k, v in self.answers.items() if k in p.text), 10, 5) for p in prompts]


def test_summary_counts_and_categories(tmp_path):
    bench = load_bench("sample")
    qs = bench.records[:6]
    replies = ["The correct option is Option %d." % (q.answer + 1) for q in qs[:3]]
    replies += ["I am not sure, option 7.", "Twenty amino acids.", "The correct option is Option 1."]
    backend = ScriptedBackend({q.question: r for q, r in zip(qs, replies)})
    summary = run_bench(backend, bench, OFFICIAL, tmp_path, RunSettings("generate"), limit=6)
    last_correct = qs[5].answer == 0
    assert summary["n"] == 6
    assert summary["correct"] == 3 + last_correct
    assert (summary["parsed"], summary["unparsed"], summary["abstained"]) == (4, 1, 1)
    assert summary["ci95"][0] < summary["accuracy"] < summary["ci95"][1]
    assert sum(c["n"] for c in summary["per_category"].values()) == 6
    preds = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in preds] == [q.id for q in qs]
    assert preds[3]["abstained"] and preds[3]["parsed"] is None
    assert preds[4]["parsed"] is None and not preds[4]["abstained"]


def test_finished_questions_are_never_asked_again(tmp_path):
    bench = load_bench("sample")
    backend = ScriptedBackend({})
    run_bench(backend, bench, OFFICIAL, tmp_path, RunSettings("loglik", chunk_size=4), limit=5)
    assert len(backend.asked) == 5
    run_bench(backend, bench, OFFICIAL, tmp_path, RunSettings("loglik", chunk_size=4), limit=8)
    assert len(backend.asked) == 8  # only the 3 new questions
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n"] == 8 and summary["questions_asked"] == 3
    # a different method is a different cache entry: everything is asked again
    run_bench(backend, bench, OFFICIAL, tmp_path, RunSettings("loglik-norm", chunk_size=4), limit=2)
    assert len(backend.asked) == 10


def test_cache_key_tracks_decoding_settings():
    b = ScriptedBackend({})
    greedy = RunSettings("generate", GenerationParams(temperature=0.0))
    sampled = RunSettings("generate", GenerationParams(temperature=0.7))
    assert cache_key(b, OFFICIAL, greedy) != cache_key(b, OFFICIAL, sampled)
    # decoding settings do not matter to log-likelihood scoring
    assert cache_key(b, OFFICIAL, RunSettings("loglik", sampled.generation)) == cache_key(b, OFFICIAL, RunSettings("loglik"))


def test_loglik_norm_divides_by_option_length():
    q = load_bench("sample").records[0]
    lps = [-10.0] * len(q.options)
    longest = max(range(len(q.options)), key=lambda i: len(q.options[i]))
    pred = score(q, {"prompt_hash": "x", "option_logprobs": lps, "prompt_tokens": 1}, OFFICIAL, "loglik-norm")
    assert pred["parsed_index"] == longest


def _cli(*args):
    return [sys.executable, "-m", "proteinlm.cli", "bench", *args]


@pytest.mark.model
def test_killed_run_resumes_to_the_same_predictions(tmp_path, smollm2):
    subset = tmp_path / "subset.json"
    raw = json.loads((Path(__file__).parent.parent / "src/proteinlm/bench/data/sample.json").read_text())
    subset.write_text(json.dumps(raw[:12], ensure_ascii=False))
    common = ["--model", "smollm2", "--bench", str(subset), "--method", "generate", "--max-new-tokens", "6", "--batch-size", "2"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    full = tmp_path / "full"
    subprocess.run(_cli(*common, "--out", str(full)), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cli(*common, "--out", str(killed)), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    done_before_kill = 0
    while time.time() < deadline and proc.poll() is None:
        caches = list((killed / "cache").glob("*.jsonl")) if (killed / "cache").exists() else []
        done_before_kill = sum(len(c.read_text().splitlines()) for c in caches)
        if done_before_kill >= 4:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert 4 <= done_before_kill < 12, "the run must be killed part-way"
    assert not (killed / "summary.json").exists()

    subprocess.run(_cli(*common, "--out", str(killed)), check=True, env=env, capture_output=True)
    summary = json.loads((killed / "summary.json").read_text())
    assert 0 < summary["questions_asked"] <= 12 - done_before_kill
    assert (killed / "predictions.jsonl").read_bytes() == (full / "predictions.jsonl").read_bytes()


def test_a_model_retrained_in_place_gets_a_new_cache_key(tmp_path):
    """The bench cache must not answer for new weights saved under the same directory name."""
    import os

    from proteinlm.models.hf import weights_fingerprint

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"old weights")
    before = weights_fingerprint(tmp_path)
    (tmp_path / "config.json").write_text('{"x": 1}')  # not a weight file: same fingerprint
    assert weights_fingerprint(tmp_path) == before
    (tmp_path / "model.safetensors").write_bytes(b"new weights")
    os.utime(tmp_path / "model.safetensors", ns=(1, 1))
    assert weights_fingerprint(tmp_path) != before
    assert weights_fingerprint(tmp_path / "absent") is None
