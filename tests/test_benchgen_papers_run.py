"""`proteinlm benchgen from-papers` against a scripted OpenAI-compatible server, on real PMC articles,
with the real offline embedding model (all-MiniLM-L6-v2) and the embedded index.

One scripted run gives every stage's drops by reason; the same run, killed during generate and
again during re-answer and then finished, must write the same files without asking the server
anything twice (counted at the server)."""

from __future__ import annotations

import json
from collections import Counter
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, SHARED_DATA
from scripted_llm_server import ScriptedLLMServer
from proteinlm.benchgen.papers.chunk import chunk_article, read_articles
from proteinlm.cli import app

PMC = sorted((SHARED_DATA / "pmc").glob("*.nxml"))
INPUTS = PMC[:2]
BEHAVIOURS = ["good", "malformed_once", "malformed", "bad_quote", "other_article", "bad_options",
              "long_explanation", "wrong_answer", "server_error", "incoherent", "good", "duplicate"]
# transient faults, each retried by the backend: they change how often the server is asked, not the output
FAULTS = ["429", "timeout", "503", "malformed", "disconnect", "500"]


@pytest.fixture(scope="module")
def server():
    articles = list(read_articles(PMC, on_error=lambda e: pytest.fail(str(e))))
    chunks = [c for a in articles[:2] for c in chunk_article(a)][: len(BEHAVIOURS)]
    script = {c.text[:60]: how for c, how in zip(chunks, BEHAVIOURS)}
    other = " ".join(s.text for s in articles[5].sections)  # an article the run never reads
    srv = ScriptedLLMServer(script, other_text=other, duplicate_text=chunks[0].text)
    srv.timeout_sleep = 3.0
    srv.start()
    srv.chunks = chunks
    yield srv
    srv.release()
    srv.stop()


def _args(out: Path, url: str) -> list[str]:
    args = ["benchgen", "from-papers", "--out", str(out), "--generator", "scripted-gen", "--validator",
            "scripted-val", "--generator-url", url, "--max-chunks", str(len(BEHAVIOURS)), "--timeout", "2",
            "--max-retries", "2", "--concurrency", "4"]
    for p in INPUTS:
        args += ["--input", str(p)]
    return args


def _outputs(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("this_run")
    return {"bench": (out / "bench.json").read_text(), "provenance": (out / "provenance.jsonl").read_text(),
            "manifest": manifest}


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    server.plan = list(FAULTS)
    start = len(server.answered)
    res = CliRunner().invoke(app, _args(out, server.base_url))
    assert res.exit_code == 0, res.output
    assert not server.plan  # every fault was met (and survived)
    return out, server.answered[start:], res.output


def test_drops_by_reason_at_every_stage(reference):
    out, _, screen = reference
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert stages["chunk"] == {"unit": "articles", "in": 2, "kept": 2, "dropped": {}}
    assert stages["generate"] == {"unit": "chunks", "in": 12, "kept": 10,
                                  "dropped": {"llm_error": 1, "malformed_json": 1}}
    assert stages["validate"]["dropped"] == {"bad_options": 1, "long_explanation": 1, "quote_not_in_chunk": 1}
    assert stages["coherence"]["dropped"] == {"low_coherence": 1}
    assert stages["reanswer"]["dropped"] == {"validator_wrong": 1}
    assert stages["dedup"]["dropped"] == {"near_duplicate": 1}
    for name, st in stages.items():  # every stage's counts add up, and feed the next stage
        assert st["in"] == st["kept"] + sum(st["dropped"].values()), name
    order = ["validate", "coherence", "evidence", "reanswer", "dedup", "shuffle", "select"]
    for a, b in zip(order, order[1:]):
        assert stages[a]["kept"] == stages[b]["in"], (a, b)
    bench = json.loads((out / "bench.json").read_text())
    assert len(bench) == stages["select"]["kept"] == 4
    # the repaired chunk's question is there; the drops are shown on screen too
    assert any(q["id"].startswith(f"{server_chunk_id(1)}:") for q in bench)
    assert "low_coherence 1" in screen and "validator_wrong 1" in screen


def server_chunk_id(i: int) -> str:
    articles = list(read_articles(INPUTS, on_error=lambda e: None))
    return [c for a in articles for c in chunk_article(a)][i].id


def test_ungrounded_question_gets_a_low_evidence_score(reference):
    out, _, _ = reference
    prov = {json.loads(line)["id"]: json.loads(line) for line in (out / "provenance.jsonl").read_text().splitlines()}
    ungrounded = prov[f"{server_chunk_id(4)}:q0"]  # about another article, quoting this chunk
    grounded = [p for i, p in prov.items() if not i.startswith(server_chunk_id(4))]
    assert grounded
    assert ungrounded["scores"]["evidence"] < 0.5 < min(p["scores"]["evidence"] for p in grounded)
    assert ungrounded["scores"]["combined"] < min(p["scores"]["combined"] for p in grounded)
    for p in grounded:
        assert p["evidence"]["own_chunk"] and p["evidence"]["passage"] in p["chunk"]["text"]
        assert p["validator"]["with_passage"]["correct"]
        assert p["validator"]["closed_book"] == {"answer": None, "correct": False, "abstained": True}
        assert p["models"] == {"generator": "scripted-gen", "validator": "scripted-val", "embedder": p["models"]["embedder"]}
        assert set(p["prompts"]) == {"question", "repair", "context", "official"}


def test_bench_reads_the_output(server, reference, tmp_path):
    out, _, _ = reference
    from proteinlm.bench.loaders import load_bench

    res = CliRunner().invoke(app, ["bench", "--bench", str(out / "bench.json"), "--model", "scripted-val",
                                   "--backend", "openai", "--base-url", server.base_url, "--method", "generate",
                                   "--out", str(tmp_path / "bench_run")])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "bench_run" / "predictions.jsonl").read_text().splitlines()) == 4

    bench = load_bench(str(out / "bench.json"))
    prov = [json.loads(line) for line in (out / "provenance.jsonl").read_text().splitlines()]
    assert [q.id for q in bench.records] == [p["id"] for p in prov]
    for q, p in zip(bench.records, prov):  # after the shuffle, the answer is still the fact quoted
        assert q.options[q.answer] in p["chunk"]["text"] or p["id"].startswith(server_chunk_id(4))
        assert p["validator"]["with_passage"]["answer"] == q.answer_label


def _kill_at(server: ScriptedLLMServer, out: Path, kind: str, n: int) -> list:
    """Run the CLI as a subprocess; SIGKILL it once n more `kind` requests were answered and it
    waits on the next (held) one. Returns what the server answered meanwhile."""
    start, held = len(server.answered), server.held
    server.hold(kind, n)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "proteinlm", *_args(out, server.base_url)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300
        while server.held == held:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "the run never reached the held request"
            time.sleep(0.05)
        time.sleep(1.0)  # replies already received are stored meanwhile
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.release()
    return server.answered[start:]


def test_killed_runs_resume_without_asking_twice(server, reference, tmp_path):
    ref_out, ref_answered, _ = reference
    out = tmp_path / "run"
    server.plan = []
    first = _kill_at(server, out, "generate", 3)
    assert {k for k, _ in first} == {"generate"} and 3 <= len(first) < 10
    assert not (out / "bench.json").exists()
    second = _kill_at(server, out, "reanswer", 4)
    assert {k for k, _ in second} >= {"reanswer"} and 4 <= sum(k == "reanswer" for k, _ in second)
    start = len(server.answered)
    res = CliRunner().invoke(app, _args(out, server.base_url))
    assert res.exit_code == 0, res.output
    third = server.answered[start:]
    # together the three runs were answered exactly what one uninterrupted run is: nothing twice
    # (two questions may share a prompt, the closed-book one of a near-duplicate: counted, not a set)
    assert Counter(p for run in (first, second, third) for _, p in run) == Counter(p for _, p in ref_answered)
    assert _outputs(out) == _outputs(ref_out)
    # a rerun of a finished run asks nothing at all
    start = len(server.answered)
    assert CliRunner().invoke(app, _args(out, server.base_url)).exit_code == 0
    assert server.answered[start:] == [] and _outputs(out) == _outputs(ref_out)


def test_structured_output_falls_back_when_the_server_rejects_it(server):
    from proteinlm.benchgen.papers.generate import SCHEMA
    from proteinlm.models.base import GenerationParams, Prompt
    from proteinlm.models.openai_api import OpenAIBackend

    backend = OpenAIBackend("m", server.base_url, max_retries=0)
    prompt = Prompt("Passage:\n\"\"\"\nSome text. The protein binds zinc through three conserved histidines.\n\"\"\"\n"
                    "You write multiple-choice questions")
    n = len(server.requests)
    server.reject_schema = True
    try:
        first = backend.generate([prompt], GenerationParams(max_new_tokens=50), json_schema=SCHEMA)
        again = backend.generate([prompt], GenerationParams(max_new_tokens=50), json_schema=SCHEMA)
    finally:
        server.reject_schema = False
    sent = server.requests[n:]
    assert [("response_format" in r["body"]) for r in sent] == [True, False, False]
    assert sent[0]["body"]["response_format"]["json_schema"]["schema"] == SCHEMA
    assert first[0].text == again[0].text and "questions" in json.loads(first[0].text)


def test_summarise_first_puts_the_summary_into_the_question_prompt(server, tmp_path):
    from proteinlm.benchgen.papers.cache import CallCache, LLMCaller
    from proteinlm.benchgen.papers.generate import SCHEMA, generate_questions
    from proteinlm.benchgen.papers.prompts import load_templates
    from proteinlm.benchgen.papers.stages import StageCounts
    from proteinlm.models.base import GenerationParams
    from proteinlm.models.openai_api import OpenAIBackend

    backend = OpenAIBackend("scripted-gen", server.base_url, max_retries=0)
    caller = LLMCaller(backend, CallCache(tmp_path / "calls.sqlite"), GenerationParams(max_new_tokens=64), SCHEMA)
    chunk = server.chunks[0]
    n = len(server.requests)
    got = list(generate_questions([chunk], caller, load_templates(), per_chunk=1, n_options=6, summarise=True,
                                  counts=StageCounts("generate")))
    asked = [r["body"]["messages"][-1]["content"] for r in server.requests[n:]]
    assert len(asked) == 2 and "Summarise the following passage" in asked[0]
    assert f"Summary of the passage:\n{got[0].summary}" in asked[1] and got[0].questions
    assert set(caller.tokens) == {"summarise", "generate"} and caller.asked == {"summarise": 1, "generate": 1}
