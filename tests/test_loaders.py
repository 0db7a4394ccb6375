"""Benchmark loaders: every supported format gives the same MCQs; every defect names file, record and reason."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import socket
import sys
from importlib import resources
from pathlib import Path

import pytest

from proteinlm.bench.loaders import Bench, load_bench, validate_record
from proteinlm.errors import BenchDataError
from proteinlm.records import MCQ

FIXTURES = Path(__file__).parent / "fixtures" / "bench"
GOOD_FILES = ["good.json", "good.jsonl", "good_list.csv", "good_numbered.csv", "good_letters.csv"]

# The content every good fixture encodes, in its own spelling of labels and answers.
EXPECTED = [
    MCQ(
        id="q0000",
        question="Which amino acid is encoded by the start codon AUG?",
        options=("Methionine", "Leucine", "Valine", "Glycine"),
        answer=0,
        explanation="AUG codes for methionine, which starts translation.",
    ),
    MCQ(
        id="q0001",
        question="下列哪种氨基酸的侧链含有硫原子？",
        options=("丙氨酸", "半胱氨酸", "甘氨酸", "脯氨酸"),
        answer=1,
        explanation="半胱氨酸的侧链含有巯基，\nso it contains sulfur.",
    ),
    MCQ(
        id="q0002",
        question="<seq> M K T A Y I A K Q R </seq> What is the N-terminal residue of this sequence?",
        options=("Lysine", "Threonine", "Alanine", "Tyrosine", "Methionine"),
        answer=4,
        explanation="The first letter, M, is methionine.",
    ),
]


def load_error(spec, **kwargs) -> str:
    with pytest.raises(BenchDataError) as info:
        load_bench(str(spec), **kwargs)
    return str(info.value)


# ---------------------------------------------------------------- good files


@pytest.mark.parametrize("filename", GOOD_FILES)
def test_every_format_gives_the_same_questions(filename):
    bench = load_bench(str(FIXTURES / filename))
    assert bench.records == EXPECTED
    assert bench.skipped == []
    assert bench.name == "good" + Path(filename).stem.removeprefix("good")
    assert bench.source == str(FIXTURES / filename)
    assert bench.sha256 == hashlib.sha256((FIXTURES / filename).read_bytes()).hexdigest()


@pytest.mark.parametrize("filename", ["good.json", "good.jsonl", "good_numbered.csv"])
def test_gzipped_files_load_like_plain_ones(tmp_path, filename):
    packed = tmp_path / (filename + ".gz")
    packed.write_bytes(gzip.compress((FIXTURES / filename).read_bytes()))
    bench = load_bench(str(packed))
    assert bench.records == EXPECTED
    assert bench.name == Path(filename).stem
    assert bench.sha256 == hashlib.sha256(packed.read_bytes()).hexdigest()  # of the stored (compressed) bytes


def test_json_object_with_data_list_and_extra_keys(tmp_path):
    path = tmp_path / "wrapped.json"
    rows = [
        {"id": 7, "subject": "enzymes", "source": "paper", "question": "Q?",
         "options": ["Option 1：yes", "Option 2：no"], "answer": "2"},
        {"id": "x", "category": "structure", "type": "mcq", "question": "R?",
         "options": ["(A) helix", "(B) sheet", "(C) coil"], "answer": "C"},
    ]
    path.write_text(json.dumps({"version": 1, "data": rows}, ensure_ascii=False), encoding="utf-8")
    first, second = load_bench(str(path)).records
    assert (first.id, first.options, first.answer, first.category) == ("7", ("yes", "no"), 1, "enzymes")
    assert first.meta == {"source": "paper"}
    assert (second.id, second.options, second.answer) == ("x", ("helix", "sheet", "coil"), 2)
    assert second.category == "structure"
    assert second.meta == {"type": "mcq"}  # category won, so the other category-like key is kept as meta


def test_labels_are_stripped_only_when_consistent():
    raw = {"question": "Q?", "options": ["1.5 mM", "2.0 mM", "3.1 mM"], "answer": 2}
    assert validate_record(raw, 0).options == ("1.5 mM", "2.0 mM", "3.1 mM")  # decimals, not labels
    raw = {"question": "Q?", "options": ["A. thaliana", "E. coli"], "answer": "option 1"}
    assert validate_record(raw, 0).options == ("A. thaliana", "E. coli")  # letters not A, B in order
    raw = {"question": "Q?", "options": ["option 1: x", "y"], "answer": 1}
    assert validate_record(raw, 0).options == ("option 1: x", "y")  # only one option labelled


@pytest.mark.parametrize("answer", ["option 3", "Option 3", "3", 3, "C", "c", "(C)", "option 3: gamma"])
def test_answer_spellings_normalise_to_index(answer):
    raw = {"question": "Q?", "options": ["alpha", "beta", "gamma", "delta"], "answer": answer}
    assert validate_record(raw, 0).answer == 2


# ---------------------------------------------------------------- 2 to 10 options
# The same 40 questions (2 to 10 options, answers at every position 1..10, including 7 in 7- to
# 10-option questions) as official JSON, JSONL with bare texts and integer answers, CSV with
# "option 1".."option 10" columns and CSV with A..J columns.
MANY = ["options_2to10.json", "options_2to10.jsonl", "options_2to10.csv", "options_2to10_letters.csv"]


@pytest.mark.parametrize("filename", MANY[1:])
def test_2_to_10_options_read_alike_in_every_format(filename):
    assert load_bench(str(FIXTURES / filename)).records == load_bench(str(FIXTURES / MANY[0])).records


def test_2_to_10_options_fixture_shape():
    records = load_bench(str(FIXTURES / MANY[0])).records
    assert len(records) == 40
    assert {len(r.options) for r in records} == set(range(2, 11))
    assert {r.answer + 1 for r in records} == set(range(1, 11))
    sevens = [r for r in records if r.answer == 6]
    assert sevens and all(len(r.options) >= 7 for r in sevens)
    tryptophan = next(r for r in records if r.id == "mc-35")
    assert tryptophan.options[9] == "Tryptophan" and tryptophan.answer == 9 and tryptophan.category == "structure"


@pytest.mark.parametrize("columns", [
    [f"option_{i}" for i in range(1, 11)],
    [f"option {i}" for i in range(1, 11)],
    [f"Option{i}" for i in range(1, 11)],
    list("ABCDEFGHIJ"),
], ids=["option_N", "option N", "OptionN", "letters"])
def test_ten_option_columns(tmp_path, columns):
    path = tmp_path / "ten.csv"
    cells = ",".join(f"t{i}" for i in range(1, 11))
    path.write_text(",".join(["question", *columns, "answer"]) + f"\nQ?,{cells},10\n", encoding="utf-8")
    (mcq,) = load_bench(str(path)).records
    assert mcq.options[9] == "t10" and mcq.answer == 9


def test_sample_bench_if_shipped():
    if not (resources.files("proteinlm.bench") / "data" / "sample.json").is_file():
        pytest.skip("sample.json not shipped yet")
    bench = load_bench("sample")
    assert bench.name == "sample" and bench.records and bench.skipped == []
    assert len({r.id for r in bench.records}) == len(bench.records)


# ---------------------------------------------------------------- broken files


def test_truncated_json_names_file_and_position():
    message = load_error(FIXTURES / "truncated.json")
    assert "truncated.json" in message and "invalid JSON at line 25, column 17" in message


def test_truncated_json_raises_even_with_skip_invalid():
    with pytest.raises(BenchDataError, match="invalid JSON"):
        load_bench(str(FIXTURES / "truncated.json"), skip_invalid=True)


@pytest.mark.parametrize(
    ("filename", "where", "reason"),
    [
        ("missing_answer.json", "record 1:", "answer is missing"),
        ("answer_out_of_range.json", "record 1:",
         "answer 'option 5' points to option 5 but the record has 4 options"),
        ("empty_option.json", "record 1:", "option 2 is empty"),
        ("duplicate_ids.jsonl", "record 2 (line 3):", "duplicate id 'p1' (already used by record 0)"),
        ("bad_line.jsonl", "record 2 (line 4):", "invalid JSON"),
        ("bad_answer.csv", "record 1 (line 4):", "answer '7' points to option 7 but the record has 3 options"),
    ],
)
def test_invalid_record_names_file_record_and_reason(filename, where, reason):
    message = load_error(FIXTURES / filename)
    assert message.startswith(f"{FIXTURES / filename}: {where}")
    assert reason in message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"options": ["a", "b"], "answer": 1}, "question is missing"),
        ({"question": "  ", "options": ["a", "b"], "answer": 1}, "question is empty"),
        ({"question": "Q?", "answer": 1}, "options are missing"),
        ({"question": "Q?", "options": "a or b", "answer": 1}, "not a JSON list"),
        ({"question": "Q?", "options": {"a": 1}, "answer": 1}, "options is not a list"),
        ({"question": "Q?", "options": [], "answer": 1}, "at least 2 options, got 0"),
        ({"question": "Q?", "options": ["only"], "answer": 1}, "at least 2 options, got 1"),
        ({"question": "Q?", "options": ["a", "b"], "answer": "maybe"}, "not an option number or letter"),
        ({"question": "Q?", "options": ["a", "b"], "answer": 0}, "points to option 0"),
        ({"question": "Q?", "options": ["a", "b"], "answer": "D"}, "points to option 4 but the record has 2"),
        (["not", "a", "dict"], "record is not an object"),
    ],
)
def test_validate_record_reasons(raw, reason):
    with pytest.raises(BenchDataError) as info:
        validate_record(raw, 12)
    assert str(info.value).startswith("record 12: ") and reason in str(info.value)


def test_skip_invalid_keeps_valid_records_in_order_and_lists_reasons():
    bench = load_bench(str(FIXTURES / "mixed_invalid.jsonl"), skip_invalid=True)
    assert [r.id for r in bench.records] == ["a", "c"]
    assert [r.question for r in bench.records] == ["Question 0?", "Question 2?"]
    assert [index for index, _ in bench.skipped] == [1, 3, 4, 5, 6]
    reasons = [reason for _, reason in bench.skipped]
    assert reasons[0] == "line 2: answer is missing"
    assert "points to option 9 but the record has 4 options" in reasons[1]
    assert reasons[2].startswith("line 5: invalid JSON")
    assert "duplicate id 'a' (already used by record 0)" in reasons[3]
    assert "at least 2 options" in reasons[4]


def test_without_skip_invalid_the_first_invalid_record_raises():
    message = load_error(FIXTURES / "mixed_invalid.jsonl")
    assert "record 1 (line 2): answer is missing" in message


def test_all_records_invalid_is_an_error(tmp_path):
    path = tmp_path / "none.json"
    path.write_text('[{"question": "Q?"}]')
    assert "no valid questions (1 invalid skipped, first: record 0: options are missing)" in load_error(
        path, skip_invalid=True
    )
    path.write_text("[]")
    assert "no valid questions" in load_error(path)


def test_csv_without_question_column_is_a_file_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("prompt,options,answer\nQ?,\"[\"\"a\"\", \"\"b\"\"]\",1\n")
    assert "lacks column(s) question" in load_error(path)


def test_missing_file_and_unsupported_type(tmp_path):
    assert str(tmp_path / "nope.json") in load_error(tmp_path / "nope.json")
    assert "not found" in load_error("no/such/dir/bench.jsonl")
    (tmp_path / "bench.txt").write_text("[]")
    assert "unsupported file type" in load_error(tmp_path / "bench.txt")


# ---------------------------------------------------------------- Hugging Face


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE=1 in the environment, and any socket use recorded (and refused) so a test
    proves it stayed off the network."""
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    return attempts


# names that cannot be in any local cache, so "offline" always means "cannot be fetched"
@pytest.mark.parametrize("spec", ["hf:proteinlm-tests/no-such-bench", "proteinlm-tests/no-such-bench"])
def test_hf_offline_says_how_to_use_a_local_file(offline, spec):
    message = load_error(spec)
    assert "could not fetch the Hugging Face dataset 'proteinlm-tests/no-such-bench'" in message
    assert "config 'evaluation'" in message
    assert "--bench path/to/file.json" in message and "JSON, JSONL and CSV" in message
    assert offline == []


def test_owner_name_that_exists_locally_is_not_sent_to_the_hub(tmp_path, monkeypatch, offline):
    (tmp_path / "owner" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert "benchmark path is not a file: owner/name" in load_error("owner/name")
    shutil.copy(FIXTURES / "good.json", tmp_path / "owner" / "bench.json")
    bench = load_bench("owner/bench.json")
    assert isinstance(bench, Bench) and bench.records == EXPECTED
    assert offline == []


def test_hf_rows_are_converted_like_files(offline, monkeypatch):
    datasets = sys.modules["datasets"]
    calls = []
    rows = json.loads((FIXTURES / "good.json").read_text(encoding="utf-8"))

    def fake_load_dataset(name, config, split):
        calls.append((name, config, split))
        return rows

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    bench = load_bench("tsynbio/ProteinLMBench", hf_split="train")
    assert calls == [("tsynbio/ProteinLMBench", "evaluation", "train")]
    assert (bench.name, bench.source) == ("tsynbio/ProteinLMBench", "hf:tsynbio/ProteinLMBench/evaluation")
    assert bench.records == EXPECTED
    assert load_bench("hf:tsynbio/ProteinLMBench/evaluation").sha256 == bench.sha256  # canonical, stable
    assert offline == []


def test_unreachable_hub_fails_fast_without_hub_requests(offline, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    for module in ("huggingface_hub.constants", "datasets.config"):
        monkeypatch.setattr(sys.modules[module], "HF_HUB_OFFLINE", False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    message = load_error("hf:proteinlm-tests/no-such-bench")
    assert "is unreachable" in message and "--bench path/to/file.json" in message
    assert len(offline) == 1, offline  # the one probe; the dataset was then looked up offline, without retries
    assert sys.modules["datasets.config"].HF_HUB_OFFLINE is False  # forced offline only for the call
