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


def _commands(command, path=()):
    """(path, command) for every command and group of the CLI, whichever module adds it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_help_text_is_plain_and_describes_every_option():
    """No typer type tags (`<int>`, `<list[str]>`, `<bool>`) in any --help, and no option without a description."""
    import re

    import typer
    import typer.main

    root = typer.main.get_command(app)
    undescribed = []
    for path, command in _commands(root):
        res = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert res.exit_code == 0, (path, res.output)
        assert not re.search(r"<(bool|str|int|float|path|list\[)", res.output), res.output
        ctx = typer.Context(command)
        for param in command.get_params(ctx):
            shown = param.display_type_rich(ctx) or ""  # what the help's type column prints
            assert "<" not in shown, (path, param.name, shown)
        undescribed += [f"{' '.join(path)} {p.opts[0] if p.opts else p.name}" for p in command.params if not (p.help or "").strip()]
    assert not undescribed, f"options without help: {undescribed}"
    assert len(list(_commands(root))) > 10  # the walk saw the whole CLI


def test_version_prints_and_exits_zero():
    from proteinlm import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"proteinlm {__version__}", res.output


# ------------------------------------------------------------------------------- builds that read nothing
FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared real data not found")


def _flat(output: str) -> str:
    return " ".join(output.split())  # the console wraps long lines


@needs_shared
def test_a_build_refused_for_its_arguments_does_not_hold_the_directory(tmp_path):
    out, nxml = tmp_path / "pmc", SHARED / "pmc" / "pone.0000217.nxml"
    base = ["build", "pmc", "--input", str(nxml), "--tokenizer", "none", "--out", str(out)]
    res = runner.invoke(app, base)
    assert res.exit_code == 2 and "--pdb-pubmed and --pmc-ids" in _flat(res.output)
    assert not (out / ".state" / "options.json").exists()
    res = runner.invoke(app, [*base, "--all-articles"])
    assert res.exit_code == 0, res.output
    assert "1 documents" in res.output


def test_uniprot_build_of_a_pubmed_file_stops_naming_it(tmp_path):
    pubmed = FIXTURES / "literature" / "pubmed_update.xml"
    args = ["build", "uniprot", "-i", str(pubmed), "--tokenizer", "none", "--out", str(tmp_path / "u")]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert f"{pubmed}: no UniProt entry" in _flat(res.output) and "--allow-empty" in res.output
    res = runner.invoke(app, [*args, "--allow-empty"])
    assert res.exit_code == 0 and "0 entries" in res.output, res.output


def test_uniprot_build_of_an_enzyme_file_gives_the_reasons_and_the_fix_runs_in_place(tmp_path):
    enzyme, out = FIXTURES / "enzyme" / "sample.dat", tmp_path / "u"
    res = runner.invoke(app, ["build", "uniprot", "-i", str(enzyme), "--tokenizer", "none", "--out", str(out)])
    text = _flat(res.output)
    assert res.exit_code == 2 and f"{enzyme}: no UniProt entry" in text
    assert f"Skipped: {enzyme}:1: text before the first ID line" in text and "more." in text
    assert not (out / ".state" / "options.json").exists() and not list((out / ".state").glob("chunk-*"))
    good = FIXTURES / "uniprot" / "modern.dat"
    res = runner.invoke(app, ["build", "uniprot", "-i", str(good), "--tokenizer", "none", "--out", str(out)])
    assert res.exit_code == 0 and "5 entries" in res.output, res.output


def test_skipped_records_are_shown_with_file_and_line(tmp_path):
    entries = (FIXTURES / "uniprot" / "modern.dat").read_text().split("//\n")
    broken = [e.replace("ID   ", "ID   BROKEN\nXX   ", 1) if k in (1, 3) else e for k, e in enumerate(entries)]
    src = tmp_path / "some_broken.dat"
    src.write_text("//\n".join(broken))
    res = runner.invoke(app, ["build", "uniprot", "-i", str(src), "--tokenizer", "none", "--out", str(tmp_path / "u")])
    assert res.exit_code == 0, res.output
    shown = [line for line in res.output.splitlines() if line.strip().startswith("skipped ")]
    assert len(shown) == 2 and all(f"{src}:" in _flat(line) or "some_broken" in line for line in shown), res.output
    assert "3 entries" in res.output and "(skipped 2)" in res.output


@needs_shared
def test_seq_in_text_without_a_mention_says_why(tmp_path):
    args = ["build", "seq-in-text", "--pubmed", str(SHARED / "pubmed" / "pubmed1.xml"),
            "--uniprot", str(SHARED / "swissprot" / "O23729.txt"), "--tokenizer", "none", "--out", str(tmp_path / "s")]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert "None of the 2 abstracts mentions a protein name of the index" in _flat(res.output)
    res = runner.invoke(app, [*args, "--allow-empty"])
    assert res.exit_code == 0 and "0 documents" in res.output, res.output


@needs_shared
def test_literature_inputs_of_the_wrong_kind_stop_the_build(tmp_path):
    res = runner.invoke(app, ["build", "pubmed", "-i", str(SHARED / "swissprot" / "Q13639.xml"), "--tokenizer", "none",
                              "--out", str(tmp_path / "p")])
    assert res.exit_code == 2 and "Q13639.xml: no PubMed citation" in _flat(res.output)
    empty = tmp_path / "pairs.jsonl"
    empty.write_text("\n")
    res = runner.invoke(app, ["build", "bilingual", "-i", str(empty), "--tokenizer", "none", "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "pairs.jsonl: no zh/en pair" in _flat(res.output)
    res = runner.invoke(app, ["build", "pmc", "-i", str(SHARED / "pubmed" / "pubmed1.xml"), "--all-articles",
                              "--tokenizer", "none", "--out", str(tmp_path / "m")])
    assert res.exit_code == 2 and "pubmed1.xml: no PMC article" in _flat(res.output)
    assert "root element is not <article>" in _flat(res.output)  # the skipped record's reason
    res = runner.invoke(app, ["build", "pmc", "-i", str(SHARED / "pmc" / "pone.0000217.nxml"), "--tokenizer", "none",
                              "--pdb-pubmed", str(FIXTURES / "sifts" / "pdb_pubmed.csv"),
                              "--pmc-ids", str(FIXTURES / "literature" / "PMC-ids.csv"), "--out", str(tmp_path / "n")])
    assert res.exit_code == 2 and "not_cited_by_pdb 1" in _flat(res.output) and "--all-articles keeps them" in res.output
