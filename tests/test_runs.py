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
from proteinlm.bench.prompts import LETTER, OFFICIAL
from proteinlm.bench.runner import RunSettings, cache_key, run_bench
from proteinlm.bench.scoring import score
from proteinlm.errors import RunError
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


# ---------------------------------------------------------------- 2 to 10 options, abstention, published

MANY = Path(__file__).parent / "fixtures" / "bench" / "options_2to10.json"


def test_option_7_is_an_answer_from_7_options_up(tmp_path):
    bench = load_bench(str(MANY))
    recs = bench.records
    backend = ScriptedBackend({q.question: "The correct option is Option 7." for q in recs})
    summary = run_bench(backend, bench, OFFICIAL, tmp_path, RunSettings("generate"))
    big = [q for q in recs if len(q.options) >= 7]
    assert len(big) == summary["abstain_ambiguous"] == 15 and summary["abstain_label"] == 7
    assert summary["abstained"] == len(recs) - len(big)
    assert summary["parsed"] == len(big)
    assert summary["correct"] == sum(q.answer == 6 for q in recs) == 4
    per = summary["per_option_count"]
    assert list(per) == [str(k) for k in range(2, 11)]
    assert per["7"]["n"] == 4 and per["7"]["correct"] == 2 and per["7"]["chance"] == pytest.approx(1 / 7)
    assert per["6"]["correct"] == 0 and per["10"]["correct"] == 1
    assert summary["chance"] == pytest.approx(sum(1 / len(q.options) for q in recs) / len(recs))
    assert json.loads((tmp_path / "summary.json").read_text())["per_option_count"] == per


class LabelScorer(ScriptedBackend):
    """Scores each continuation by a table (continuation -> logprob), recording what it was asked."""

    def __init__(self, table):
        super().__init__({})
        self.table, self.continuations = table, []

    def loglikelihood(self, prompts, continuations):
        self.continuations += [list(c) for c in continuations]
        return [LoglikResult(tuple(ContinuationScore(self.table.get(c, -9.0), 1) for c in cs), 10) for cs in continuations]


def test_loglik_scores_complete_labels_so_option_10_can_win(tmp_path):
    bench = load_bench(str(MANY))
    # " 10." is the likeliest complete label; a plain " 1" would hold all of " 10"'s probability too
    backend = LabelScorer({" 10.": -0.5, " 1.": -2.0, " 1": -0.1})
    summary = run_bench(backend, bench, OFFICIAL, tmp_path, RunSettings("loglik"))
    by_size = {len(c): c for c in backend.continuations}
    assert by_size[10] == [f" {i}." for i in range(1, 11)]
    assert by_size[6] == [" 1", " 2", " 3", " 4", " 5", " 6"]  # as before: no label prefixes another
    preds = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert {p["parsed"] for p in preds if p["n_options"] == 10} == {"10"}
    assert summary["per_option_count"]["10"]["correct"] == 2  # the two questions whose answer is 10


class PublishedScripted(ScriptedBackend):
    """Replies with the gold option; the text decoded with the prompt loses one space for the
    questions in `mangled`, as a tokenizer that normalises spaces would."""

    def __init__(self, answers, mangled):
        super().__init__(answers)
        self.mangled, self.params = mangled, []

    def generate(self, prompts, params):
        self.params.append(params)
        gens = super().generate(prompts, params)
        out = []
        for p, g in zip(prompts, gens):
            text = p.text.replace("question: ", "question:") if any(m in p.text for m in self.mangled) else p.text
            out.append(Generation(g.text, g.prompt_tokens, g.completion_tokens, {"decoded_with_prompt": text + " " + g.text}))
        return out


def test_published_extraction_beside_faithful(tmp_path):
    bench = load_bench(str(MANY))
    recs = bench.records
    mangled = [q for q in recs if q.id in ("mc-16", "mc-35", "mc-38")]  # 6, 10 and 10 options; mc-38's answer is 7
    backend = PublishedScripted({q.question: f"The correct option is Option {q.answer + 1}." for q in recs},
                                [q.question for q in mangled])
    settings = RunSettings("generate", GenerationParams(temperature=0.7, max_new_tokens=64, seed=5), extract="published")
    summary = run_bench(backend, bench, OFFICIAL, tmp_path, settings)
    assert backend.params[0] == GenerationParams(max_new_tokens=20, temperature=0.1, seed=5, decode_prompt=True)
    assert summary["extract"] == "published" and summary["decoding"]["temperature"] == 0.1
    assert summary["prompt_not_stripped"] == 3
    # the unstripped prompt's first integer is the instructions' 7: an abstention with 6 options, a
    # (wrong) answer with 10, and right by chance where the answer is 7
    assert summary["correct"] == len(recs) - 2 and summary["abstained"] == 1
    assert summary["rules"]["first_integer_unstripped"] == 2
    same = summary["faithful_same_replies"]
    assert (same["correct"], same["parsed"], same["abstained"]) == (len(recs), len(recs), 0)


def test_published_extraction_needs_generate():
    with pytest.raises(RunError, match="--method generate"):
        RunSettings("loglik", extract="published")
    with pytest.raises(RunError, match="extraction"):
        RunSettings("generate", extract="lenient")
    with pytest.raises(RunError, match="letters its options"):
        run_bench(ScriptedBackend({}), load_bench("sample"), LETTER, Path("unused"), RunSettings("generate", extract="published"))


def test_label_defaults_to_the_run_directory(tmp_path):
    bench = load_bench("sample")
    a = run_bench(ScriptedBackend({}), bench, OFFICIAL, tmp_path / "sft-a", RunSettings("loglik"), limit=2)
    b = run_bench(ScriptedBackend({}), bench, OFFICIAL, tmp_path / "x", RunSettings("loglik"), limit=2, label="sft-b")
    assert (a["label"], b["label"]) == ("sft-a", "sft-b")


def test_cli_flags_and_an_80_column_report(tmp_path, monkeypatch):
    """`bench --label/--abstain-label/--extract published` and `bench report` through the CLI, on a
    local OpenAI-compatible server that answers with the [[answer=N]] marker of each question."""
    from typer.testing import CliRunner

    sys.path.insert(0, str(Path(__file__).parent))
    from fake_openai_server import FakeOpenAIServer

    from proteinlm.cli import app

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    rows = json.loads(MANY.read_text())
    for row in rows:  # the fake model answers every question right
        row["question"] += f" [[answer={row['answer'].split()[-1]}]]"
    bench_file = tmp_path / "many.json"
    bench_file.write_text(json.dumps(rows))
    server = FakeOpenAIServer().start()
    runner = CliRunner()
    try:
        common = ["bench", "--backend", "openai", "--base-url", server.base_url, "--bench", str(bench_file),
                  "--method", "generate", "--concurrency", "4"]
        res = runner.invoke(app, common + ["--model", "ckpt/a/final", "--out", str(tmp_path / "sft-a")])
        assert res.exit_code == 0, res.output
        assert "15 questions have 7+ options" in res.output
        res = runner.invoke(app, common + ["--model", "ckpt/b/final", "--out", str(tmp_path / "run2"),
                                           "--label", "sft-b published", "--extract", "published",
                                           "--abstain-label", "11"])
        assert res.exit_code == 0, res.output
        assert "questions have" not in res.output  # no question has 11 options
        sent = [r["body"]["messages"][-1]["content"] for r in server.requests[-40:]]
    finally:
        server.stop()
    assert all("output option 11." in text for text in sent)
    a = json.loads((tmp_path / "sft-a" / "summary.json").read_text())
    b = json.loads((tmp_path / "run2" / "summary.json").read_text())
    assert (a["label"], a["extract"], a["correct"], a["abstain_ambiguous"]) == ("sft-a", "faithful", 40, 15)
    assert (b["label"], b["extract"], b["abstain_label"], b["abstain_ambiguous"]) == ("sft-b published", "published", 11, 0)
    assert b["correct"] == b["faithful_same_replies"]["correct"] == 40 and b["prompt_not_stripped"] == 0

    res = runner.invoke(app, ["bench", "report", str(tmp_path / "sft-a"), str(tmp_path / "run2"),
                              "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80
    for text in ("sft-a", "sft-b published", "published", "faithful, same", "100.0% [91.2–100.0]", "10.0%"):
        assert text in res.output, text
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| sft-b published | ckpt/b/final | openai | generate | published | official | 40 |" in md
    assert "| sft-b published | ckpt/b/final | openai | generate | faithful, same replies |" in md
    assert "| 10 | 10.0% | 100.0% (6/6) | 100.0% (6/6) |" in md
