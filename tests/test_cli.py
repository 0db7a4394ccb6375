"""The CLI end to end against a served model (the fake OpenAI-compatible server on 127.0.0.1)."""

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import FakeOpenAIServer  # noqa: E402

from proteinlm.cli import app  # noqa: E402

runner = CliRunner()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-test")
    srv = FakeOpenAIServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def bench_file(tmp_path):
    # The fake model answers with the number in the [[answer=N]] marker: 3 right, 1 wrong.
    rows = []
    for i, (said, gold) in enumerate([(1, 1), (2, 2), (4, 4), (3, 1)]):
        rows.append({
            "question": f"Question {i} [[answer={said}]]: which residue is achiral?",
            "options": ["option 1: Glycine", "option 2: Alanine", "option 3: Serine", "option 4: Valine"],
            "answer": f"option {gold}",
            "explanation": "",
            "category": "general" if i % 2 else "structure",
        })
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(rows))
    return path


def test_generate_run_report_and_rerun(server, bench_file, tmp_path):
    out = tmp_path / "run"
    args = ["bench", "--backend", "openai", "--model", "fake", "--base-url", server.base_url,
            "--bench", str(bench_file), "--method", "generate", "--out", str(out), "--concurrency", "2"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["n"], summary["correct"], summary["parsed"]) == (4, 3, 4)
    assert summary["per_category"]["general"]["n"] == 2
    assert "sk-cli-test" not in (out / "summary.json").read_text()
    asked = len(server.requests)
    assert runner.invoke(app, args).exit_code == 0
    assert len(server.requests) == asked  # finished: nothing asked again

    res = runner.invoke(app, ["bench", "report", str(out), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "75.0%" in (tmp_path / "rep" / "report.md").read_text()
    assert (tmp_path / "rep" / "report.png").read_bytes().startswith(b"\x89PNG")


def test_loglik_through_server_logprobs(server, bench_file, tmp_path):
    res = runner.invoke(app, ["bench", "--backend", "openai", "--model", "fake", "--base-url", server.base_url,
                              "--bench", str(bench_file), "--method", "loglik", "--out", str(tmp_path / "ll")])
    assert res.exit_code == 0, res.output
    preds = [json.loads(x) for x in (tmp_path / "ll" / "predictions.jsonl").read_text().splitlines()]
    assert all(len(p["option_logprobs"]) == 4 for p in preds)
    bodies = [r["body"] for r in server.requests]
    assert all(b.get("echo") for b in bodies)


def test_server_without_logprobs_gives_a_clear_error(server, bench_file, tmp_path):
    server.logprobs_mode = "unsupported"
    res = runner.invoke(app, ["bench", "--backend", "openai", "--model", "fake", "--base-url", server.base_url,
                              "--bench", str(bench_file), "--method", "loglik", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "--method generate" in res.output


def test_bad_inputs_exit_with_located_errors(tmp_path):
    res = runner.invoke(app, ["bench", "--model", "smollm2", "--bench", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "nope.json" in res.output
    broken = tmp_path / "broken.json"
    broken.write_text('[{"question": "q", "options": ["option 1: a", "option 2: b"], "answer": "option 3"}]')
    res = runner.invoke(app, ["bench", "--model", "smollm2", "--bench", str(broken), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "record 0" in res.output and "option 3" in res.output
    res = runner.invoke(app, ["bench", "--bench", "sample", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--model" in res.output


def test_export_lm_eval(tmp_path):
    res = runner.invoke(app, ["bench", "export-lm-eval", "--bench", "sample", "--prompt", "letter", "--out", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output
    names = {p.name for p in (tmp_path / "t").iterdir()}
    assert {"proteinlm_sample_letter_label.yaml", "proteinlm_sample_letter_text.yaml", "utils.py"} <= names


def test_one_input_flag_takes_several_files(tmp_path):
    """`--input *.dat` (what a shell glob gives) reads every file, in order, like repeated flags."""
    fixture = Path(__file__).parent / "fixtures" / "uniprot" / "modern.dat"
    entries = fixture.read_text().split("//\n")
    files = []
    for k in range(2):
        f = tmp_path / f"part{k}.dat"
        f.write_text("//\n".join(entries[k * 2 : k * 2 + 2]) + "//\n")
        files.append(str(f))
    one = runner.invoke(app, ["build", "uniprot", "--input", *files, "--tokenizer", "none", "--out", str(tmp_path / "a")])
    many = runner.invoke(app, ["build", "uniprot", "-i", files[0], "-i", files[1], "--tokenizer", "none",
                               "--out", str(tmp_path / "b")])
    assert one.exit_code == 0 and many.exit_code == 0, one.output + many.output
    a, b = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in "ab")
    assert a["options"]["inputs"] == b["options"]["inputs"] == files and a["entries"] == b["entries"] == 4
    assert a["outputs"] == b["outputs"]
