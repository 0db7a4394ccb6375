"""Run comparison report: Wilson intervals, markdown/rich tables, the PNG chart, error messages."""

from __future__ import annotations

import io
import json
import struct

import pytest

from proteinlm.bench.report import (
    comparison_rows,
    load_summaries,
    plot_accuracy,
    print_run,
    print_table,
    render_markdown,
    write_report,
)
from proteinlm.bench.scoring import wilson_interval
from proteinlm.errors import RunError

# Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (Wilson score, no continuity correction);
# these are also what statsmodels' proportion_confint(k, n, method="wilson") returns.
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("k,n,lo,hi", NEWCOMBE)
def test_wilson_matches_published_values(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=6e-5)


@pytest.mark.parametrize(
    "k,n,lo,hi",
    # the closed form statsmodels' proportion_confint(k, n, alpha=0.05, method="wilson") evaluates,
    # worked out by hand to 10 decimals (statsmodels itself is not a dependency)
    [(50, 100, 0.4038315304, 0.5961684696), (3, 7, 0.1582198553, 0.7495416355),
     (0, 10, 0.0, 0.2775327999), (10, 10, 0.7224672001, 1.0), (1, 2, 0.0945312057, 0.9054687943)],
)
def test_wilson_matches_statsmodels(k, n, lo, hi):
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-9)


@pytest.mark.parametrize("k,n", [(0, 1), (1, 3), (81, 263), (499, 944), (944, 944)])
def test_wilson_matches_scipy(k, n):
    stats = pytest.importorskip("scipy.stats")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_wilson_edge_cases():
    assert wilson_interval(0, 0) == (0.0, 0.0)
    lo, hi = wilson_interval(5, 10, z=1.0)
    assert lo < 0.5 < hi and hi - 0.5 == pytest.approx(0.5 - lo)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def _summary(run_id, model, method, fmt, n, correct, *, per_category=None, chance=None, sha="abc123"):
    s = {
        "run_id": run_id, "model": model, "backend": "transformers", "method": method, "prompt_format": fmt,
        "bench": {"name": "proteinlmbench-944", "source": "hf:tsynbio/ProteinLMBench", "sha256": sha,
                  "n_records": n, "n_skipped": 0},
        "n": n, "correct": correct, "accuracy": correct / n, "ci95": list(wilson_interval(correct, n)),
        "parsed": n if method != "generate" else n - 7, "unparsed": 0 if method != "generate" else 7,
        "abstained": 0 if method != "generate" else 3,
        "per_category": per_category or {},
        "prompt_tokens": 123456, "wall_time_s": 100.0, "questions_per_s": n / 100.0, "package_version": "0.1.0",
    }
    if chance is not None:
        s["chance"] = chance
    return s


def _write_run(root, summary):
    d = root / summary["run_id"]
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return d


@pytest.fixture
def runs(tmp_path):
    cats = {"enzyme": {"n": 100, "correct": 40, "accuracy": 0.4, "ci95": list(wilson_interval(40, 100))},
            "structure": {"n": 163, "correct": 41, "accuracy": 41 / 163, "ci95": list(wilson_interval(41, 163))}}
    summaries = [
        _summary("run-a", "HuggingFaceTB/SmolLM2-135M-Instruct", "loglik", "official", 263, 81,
                 per_category=cats, chance=0.2),
        _summary("run-b", "/models/Qwen2.5-7B-Instruct-Q4_K_M.gguf", "loglik-norm", "letter", 263, 150),
        _summary("run-c", "gpt-4o-mini", "generate", "official", 263, 200),
    ]
    return [_write_run(tmp_path / "runs", s) for s in summaries], summaries


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_write_report(runs, tmp_path):
    dirs, _ = runs
    md_path, png_path = write_report(dirs, tmp_path / "report")
    assert md_path == tmp_path / "report" / "report.md" and png_path == tmp_path / "report" / "report.png"
    md = md_path.read_text(encoding="utf-8")
    assert "30.8% [25.5–36.6]" in md  # 81/263 with its Wilson interval
    assert "57.0% [51.0–62.9]" in md  # 150/263
    assert "76.0% [70.5–80.8]" in md  # 200/263
    for word in ("run-a", "run-b", "run-c", "loglik-norm", "gpt-4o-mini", "256/7/3", "2.63", "questions/s",
                 "parsed/unparsed/abstained", "proteinlmbench-944", "report.png"):
        assert word in md, word
    assert "Accuracy by category" in md
    assert "| enzyme | 40.0% (n=100) | – | – |" in md
    width, height = _png_size(png_path.read_bytes())
    assert width > 300 and height > 200
    PIL = pytest.importorskip("PIL.Image")
    with PIL.open(png_path) as im:
        assert im.format == "PNG" and im.size == (width, height)


def test_markdown_without_categories(runs):
    _, summaries = runs
    md = render_markdown(summaries[1:])
    assert "Accuracy by category" not in md
    header, rule, *body = md.strip().splitlines()
    assert header.count("|") == rule.count("|") == 12 and len(body) == 2
    assert header.startswith("| run | model | backend | method | extract | prompt | n | accuracy")


def test_comparison_rows_fill_missing_ci(runs):
    _, summaries = runs
    s = dict(summaries[0])
    del s["ci95"], s["accuracy"]
    row = comparison_rows([s])[0]
    assert row["accuracy"] == pytest.approx(81 / 263)
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx(wilson_interval(81, 263))
    assert row["label"] == "run-a" and row["model_name"] == "SmolLM2-135M-Instruct"


def test_plot_single_run_and_mixed_benches(runs, tmp_path):
    _, summaries = runs
    other = dict(summaries[1], bench={"name": "other", "sha256": "zzz"})
    for i, batch in enumerate(([summaries[0]], [summaries[0], other])):
        path = plot_accuracy(batch, tmp_path / f"p{i}.png")
        assert _png_size(path.read_bytes())[0] > 300


def test_print_table(runs):
    from rich.console import Console

    _, summaries = runs
    buf = io.StringIO()
    print_table(summaries, Console(file=buf, width=250, color_system=None))
    out = buf.getvalue()
    assert "run-a" in out and "30.8% [25.5–36.6]" in out and "enzyme" in out


def test_load_summaries_errors(runs, tmp_path):
    dirs, _ = runs
    assert [s["run_id"] for s in load_summaries(dirs)] == ["run-a", "run-b", "run-c"]
    assert load_summaries(dirs[0] / "summary.json")[0]["run_id"] == "run-a"

    empty = tmp_path / "unfinished-run"
    empty.mkdir()
    with pytest.raises(RunError, match="unfinished-run.*summary.json"):
        load_summaries([dirs[0], empty])
    with pytest.raises(RunError, match="nowhere.*does not exist"):
        write_report([tmp_path / "nowhere"], tmp_path / "out")

    corrupt = tmp_path / "corrupt-run"
    corrupt.mkdir()
    (corrupt / "summary.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RunError, match="corrupt-run"):
        load_summaries([corrupt])
    (corrupt / "summary.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(RunError, match="corrupt-run.*not a JSON object"):
        load_summaries([corrupt])
    (corrupt / "summary.json").write_text('{"model": "m"}', encoding="utf-8")
    with pytest.raises(RunError, match="corrupt-run.*lacks keys"):
        load_summaries([corrupt])
    with pytest.raises(RunError):
        load_summaries([])


# ---------------------------------------------------------------- labels, 80 columns, per option count

POC = {"2": {"n": 3, "correct": 2, "accuracy": 2 / 3}, "6": {"n": 200, "correct": 60, "accuracy": 0.3},
       "10": {"n": 60, "correct": 19, "accuracy": 19 / 60}}


def _labelled(run_id, label, model="/ckpt/sft/final"):
    s = _summary(run_id, model, "generate", "official", 263, 120, chance=0.2)
    s["per_option_count"] = POC
    if label is not None:
        s["label"] = label
    return s


def test_labels_name_runs_of_models_in_folders_of_one_name(tmp_path):
    from proteinlm.bench.chart import bar_label

    summaries = [_labelled("r1", "sft lr=1e-4"), _labelled("r2", None), _labelled("r3", "sft lr=1e-4")]
    rows = comparison_rows(summaries)
    assert [r["label"] for r in rows] == ["sft lr=1e-4", "r2", "sft lr=1e-4 #2"]  # r2: its directory
    assert {r["model_name"] for r in rows} == {"final"}
    assert [bar_label(r).splitlines()[0] for r in rows] == ["sft lr=1e-4", "r2", "sft lr=1e-4 #2"]
    md = render_markdown(summaries)
    assert "| options | chance | sft lr=1e-4 | r2 | sft lr=1e-4 #2 |" in md
    assert "| 10 | 10.0% | 31.7% (19/60) | 31.7% (19/60) | 31.7% (19/60) |" in md


def test_terminal_table_fits_80_columns_and_report_md_has_everything(tmp_path):
    from rich.console import Console

    summaries = [_labelled(f"run-{i}", f"[b]a rather long run label number {i}[/b]",
                           model=f"/models/family-{i}/Qwen2.5-7B-Instruct-Q4_K_M.gguf") for i in range(6)]
    summaries[1]["extract"] = "published"
    summaries[1]["faithful_same_replies"] = {"n": 263, "correct": 150, "parsed": 250, "unparsed": 10, "abstained": 3}
    buf = io.StringIO()
    print_table(summaries, Console(file=buf, width=80, color_system=None))
    out = buf.getvalue()
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "[b]a rather" in out  # labels are shown as written, not read as markup
    assert "45.6% [39.7–51.7]" in out and "57.0% [51.0–62.9]" in out  # 120/263 and the same replies' 150/263
    assert "faithful, same" in out and "published" in out
    assert "Accuracy by number of options" in out and "more runs in report.md" in out
    assert "prompt official" in out and "chance 20.0%" in out  # shared by all runs: in the title
    md = render_markdown(summaries)
    header = md.splitlines()[0]
    for column in ("model", "backend", "extract", "chance", "questions/s"):
        assert f"| {column} |" in header, column
    assert md.count("faithful, same replies") == 1 and "Qwen2.5-7B-Instruct-Q4_K_M.gguf" in md
    assert "a rather long run label number 5" in md.split("### Accuracy by number of options")[1]


def test_print_run_shows_option_counts_and_abstention_clash():
    from rich.console import Console

    s = _labelled("run-x", "x")
    s.update(abstain_label=7, abstain_ambiguous=15)
    buf = io.StringIO()
    print_run(s, Console(file=buf, width=80, color_system=None))
    out = buf.getvalue()
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "option 7 is an answer" in out and "in 15 questions" in out
    assert "31.7% (19/60)" in out and "10.0%" in out
