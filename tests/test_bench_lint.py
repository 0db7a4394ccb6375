"""`proteinlm bench check` on hand-made files: 2 to 10 options, answers 7 and 10, stale explanation
numbers, duplicates, invalid records; JSON and a CSV with ten option columns."""

import json
from pathlib import Path

from typer.testing import CliRunner

from proteinlm.bench.lint import lint_bench
from proteinlm.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "bench_lint"
MIXED = FIXTURES / "mixed.json"
runner = CliRunner()


def _ids(report, check):
    return [f.where.split("id ")[-1].rstrip(")") for f in report.of(check)]


def test_every_kind_of_problem_is_found_where_it_is():
    report = lint_bench(str(MIXED))
    assert (report.records, report.valid) == (15, 12)
    assert report.option_counts == {2: 1, 3: 1, 4: 4, 5: 1, 6: 2, 7: 1, 8: 1, 10: 1}
    assert report.answer_positions == {1: 3, 2: 2, 3: 1, 4: 1, 6: 2, 7: 1, 8: 1, 10: 1}
    assert _ids(report, "invalid_record") == ["out-of-range", "no-answer"]
    assert "points to option 5 but the record has 4 options" in report.of("invalid_record")[0].detail
    assert _ids(report, "empty_option") == ["empty-option"]
    assert _ids(report, "answer_repeated") == ["answer-twice"]
    assert _ids(report, "duplicate_options") == ["dup-options"]  # "Copper" and "copper." are one option
    assert _ids(report, "duplicate_question") == ["four-copy"]  # a shuffled copy, same answer text
    assert _ids(report, "near_duplicate") == ["six-near"]  # one word changed
    assert _ids(report, "stale_explanation") == ["four-stale"]  # cites option 3, the answer is 1
    assert _ids(report, "csv_cut") == ["seven", "eight", "ten"]
    assert _ids(report, "abstention_clash") == ["seven", "eight", "ten"]
    assert "option 7 is the answer here" in report.of("abstention_clash")[0].detail
    assert report.of("duplicate_id") == [] and report.of("conflicting_answers") == []
    assert (report.errors, report.warnings) == (4, 10)


def test_explanations_that_cite_the_answer_pass():
    report = lint_bench(str(MIXED))
    # "two", "five", "seven", "eight", "ten" cite their own answer: only the stale one is flagged
    assert len(report.of("stale_explanation")) == 1


def test_same_question_with_another_answer_and_a_repeated_id_are_errors(tmp_path):
    rows = [
        {"id": "a", "question": "Which ion does calmodulin bind?", "options": ["Ca2+", "Na+", "K+"], "answer": 1},
        {"id": "b", "question": "Which ion does  calmodulin bind?", "options": ["K+", "Ca2+", "Na+"], "answer": 1},
        {"id": "a", "question": "Which enzyme digests starch?", "options": ["Amylase", "Lipase"], "answer": 1},
    ]
    path = tmp_path / "conflict.json"
    path.write_text(json.dumps(rows))
    report = lint_bench(str(path))
    assert _ids(report, "conflicting_answers") == ["b"]
    assert "'K+', not 'Ca2+'" in report.of("conflicting_answers")[0].detail
    assert [f.where for f in report.of("duplicate_id")] == ["record 2 (id a)"]
    assert report.errors == 2


def test_ten_option_columns_csv_reads_as_the_json(tmp_path):
    report = lint_bench(str(FIXTURES / "ten_columns.csv"))
    assert report.valid == report.records == 7
    assert report.option_counts == {2: 1, 3: 1, 5: 1, 6: 1, 7: 1, 8: 1, 10: 1}
    assert report.answer_positions == {2: 1, 3: 1, 4: 1, 6: 1, 7: 1, 8: 1, 10: 1}
    assert report.errors == 0 and _ids(report, "csv_cut") == ["seven", "eight", "ten"]
    assert report.of("invalid_record") == []


def test_the_command_prints_the_table_and_fails_only_on_errors(tmp_path):
    res = runner.invoke(app, ["bench", "check", str(MIXED)], terminal_width=80)
    assert res.exit_code == 1, res.output
    assert "near-duplicate questions" in res.output and "4 errors, 10 warnings" in res.output
    assert "record 12 (id out-of-range): answer 'option 5' points to option 5" in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80

    res = runner.invoke(app, ["bench", "check", str(FIXTURES / "ten_columns.csv")])
    assert res.exit_code == 0, res.output  # warnings only
    assert "0 errors, 6 warnings" in res.output

    res = runner.invoke(app, ["bench", "check", str(MIXED), "--json"])
    data = json.loads(res.stdout)
    assert data["counts"]["stale_explanation"] == 1 and data["errors"] == 4 and res.exit_code == 1
    assert {f["severity"] for f in data["findings"]} == {"error", "warning"}


def test_unreadable_files_are_errors_of_the_cli(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"question": "q", ')
    res = runner.invoke(app, ["bench", "check", str(broken)])
    assert res.exit_code == 2 and "invalid JSON" in res.output
    res = runner.invoke(app, ["bench", "check", "sample"])
    assert res.exit_code == 0, res.output  # the packaged sample is clean
