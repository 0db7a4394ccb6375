"""Checks on the sample benchmark shipped with the package (bench/data/sample.json).

The file follows the official ProteinLMBench JSON shape (question / options /
answer / explanation) plus ``id`` and ``category``. These tests only use json
and re, so they run without the rest of the package installed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = REPO_ROOT / "src/proteinlm/bench/data/sample.json"
SWISSPROT_DIR = REPO_ROOT / ".." / "shared" / "data" / "swissprot"

REQUIRED_KEYS = {"id", "category", "question", "options", "answer", "explanation"}
OPTION_RE = re.compile(r"^option (\d+): \S")
ANSWER_RE = re.compile(r"^option (\d+)$")
SEQ_RE = re.compile(r"<seq> (.*?) </seq>")
SEQ_BODY_RE = re.compile(r"^([A-Z] )*[A-Z]$")
CJK_RE = re.compile(r"[\u4e00-\u9fff]")
NUMERIC_RE = re.compile(r"^[0-9][0-9.,]*$")
ACCESSION_RE = re.compile(
    r"UniProt ([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})\b"
)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    with SAMPLE.open(encoding="utf-8") as fh:
        data = json.load(fh)
    assert isinstance(data, list)
    return data


def _answer_pos(rec: dict) -> int:
    m = ANSWER_RE.match(rec["answer"])
    assert m, f"{rec.get('id')}: bad answer {rec['answer']!r}"
    return int(m.group(1))


def test_size_and_keys(records):
    assert len(records) >= 36
    for rec in records:
        assert isinstance(rec, dict)
        missing = REQUIRED_KEYS - rec.keys()
        assert not missing, f"{rec.get('id')}: missing {missing}"
        for key in REQUIRED_KEYS - {"options"}:
            assert isinstance(rec[key], str) and rec[key].strip(), f"{rec['id']}: empty {key}"
        assert isinstance(rec["options"], list)


def test_ids_unique_and_ordered(records):
    ids = [rec["id"] for rec in records]
    assert len(ids) == len(set(ids))
    assert ids == [f"sample-{i:03d}" for i in range(1, len(records) + 1)]


def test_categories(records):
    counts = Counter(rec["category"] for rec in records)
    assert 5 <= len(counts) <= 8, counts
    assert min(counts.values()) >= 3, counts


def test_options_labelled_consecutively(records):
    for rec in records:
        opts = rec["options"]
        assert 4 <= len(opts) <= 6, rec["id"]
        for n, opt in enumerate(opts, 1):
            m = OPTION_RE.match(opt)
            assert m and int(m.group(1)) == n, f"{rec['id']}: bad option label {opt!r}"
        texts = [opt.split(": ", 1)[1] for opt in opts]
        assert len(set(texts)) == len(texts), f"{rec['id']}: duplicate option text"


def test_answer_in_range(records):
    for rec in records:
        assert 1 <= _answer_pos(rec) <= len(rec["options"]), rec["id"]


def test_option_count_mix(records):
    counts = Counter(len(rec["options"]) for rec in records)
    assert counts[4] >= 10, counts
    assert counts[6] >= 10, counts


def test_answer_positions_balanced(records):
    hist = Counter(_answer_pos(rec) for rec in records)
    for pos in range(1, 7):
        assert hist[pos] >= 3, hist
    assert max(hist.values()) <= 0.30 * len(records), hist


def test_chinese_questions(records):
    zh = [rec for rec in records if CJK_RE.search(rec["question"])]
    assert len(zh) >= 6
    for rec in zh:  # Chinese questions have Chinese options too (or purely numeric ones)
        for opt in rec["options"]:
            text = opt.split(": ", 1)[1]
            assert CJK_RE.search(text) or NUMERIC_RE.match(text), f"{rec['id']}: {opt!r}"


def test_sequence_questions_format(records):
    with_seq = [rec for rec in records if "<seq>" in rec["question"]]
    assert len(with_seq) >= 8
    for rec in with_seq:
        q = rec["question"]
        assert q.count("<seq>") == q.count("</seq>") == 1, rec["id"]
        m = SEQ_RE.search(q)
        assert m, f"{rec['id']}: <seq> tags not separated by single spaces"
        assert SEQ_BODY_RE.match(m.group(1)), f"{rec['id']}: residues not single-space separated"
        assert ACCESSION_RE.search(q), f"{rec['id']}: sequence question names no UniProt accession"


def _parse_flat_files(directory: Path) -> dict[str, str]:
    """Map every accession (primary and secondary) to its sequence, from flat files."""
    seqs: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix.lower() == ".xml":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for entry in text.split("\n//"):
            accs: list[str] = []
            residues: list[str] = []
            in_seq = False
            for line in entry.splitlines():
                if line.startswith("AC   "):
                    accs += [a.strip() for a in line[5:].split(";") if a.strip()]
                elif line.startswith("SQ   "):
                    in_seq = True
                elif in_seq and line.startswith("     "):
                    residues.append(line.replace(" ", ""))
            if accs and residues:
                sequence = "".join(residues)
                for acc in accs:
                    seqs.setdefault(acc, sequence)
    return seqs


def test_sequences_match_swissprot(records):
    if not SWISSPROT_DIR.is_dir():
        pytest.skip(f"{SWISSPROT_DIR} not available")
    seqs = _parse_flat_files(SWISSPROT_DIR)
    checked = 0
    for rec in records:
        m = SEQ_RE.search(rec["question"])
        if not m:
            continue
        residues = m.group(1).replace(" ", "")
        for acc in set(ACCESSION_RE.findall(rec["question"])):
            if acc in seqs:
                assert residues in seqs[acc], f"{rec['id']}: sequence is not part of {acc}"
                checked += 1
    assert checked >= 8, f"only {checked} sequences could be checked against Swiss-Prot"
