"""Sequence-in-text documents (dataset/literature/seq_in_text.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from proteinlm.dataset.literature.seq_in_text import (
    Mention,
    MentionMatcher,
    SeqInTextStats,
    build_documents,
    build_index,
    insert_sequences,
    normalize_name,
)
from proteinlm.dataset.seqtext import seq_to_text
from proteinlm.records import Article, ProteinEntry, Section
from proteinlm.sources.uniprot import parse

SWISSPROT = Path(__file__).parents[1].parent / "shared/data/swissprot"

HAND = [
    # two different proteins sharing a gene name: "ABC1" is ambiguous and must be dropped
    ProteinEntry(("Q00001",), "ABC1_YEAST", "MAAA", recommended_name="Foobarase one",
                 gene_names=("ABC1",)),
    ProteinEntry(("Q00002",), "ABC1_HUMAN", "MCCC", recommended_name="Foobarase two",
                 gene_names=("ABC1",)),
    # same sequence under two accessions: not ambiguous, the first accession is used
    ProteinEntry(("Q00003",), "ZZZ_A", "MWWW", gene_names=("ZQX7",)),
    ProteinEntry(("Q00004",), "ZZZ_B", "MWWW", gene_names=("ZQX7",)),
    # names that are common words, too short or numeric
    ProteinEntry(("Q00005",), "CAT_X", "MKKK", recommended_name="Kinase",
                 alternative_names=("Cell", "ab"), gene_names=("CAT", "MET", "12", "XY")),
]


def _entries():
    files = sorted(SWISSPROT.glob("*.txt")) if SWISSPROT.is_dir() else []
    if not any(f.name == "multi_ex.txt" for f in files):
        pytest.skip(f"Swiss-Prot test files missing under {SWISSPROT}")
    return [e for f in files for e in parse(f)] + HAND


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("idx") / "names.sqlite"
    stats = build_index(_entries(), path)
    assert stats.proteins >= 10 and stats.names > stats.proteins and stats.skipped == 0
    return path


@pytest.fixture(scope="module")
def matcher(db):
    m = MentionMatcher(db)
    yield m
    m.close()


def _seq(matcher, acc):
    return seq_to_text(matcher.sequence(acc))


def art(title, *texts, id="1"):
    return Article(id=id, title=title, sections=tuple(Section("", t) for t in texts), pmid=id)


def test_index_tables(db):
    con = sqlite3.connect(db)
    (seq,) = con.execute("SELECT sequence FROM proteins WHERE accession='P00750'").fetchone()
    assert seq.startswith("M") and len(seq) > 500
    kinds = dict(con.execute("SELECT name_norm, kind FROM names WHERE accession='P00750'"))
    assert kinds["tissue-type plasminogen activator"] == "recommended"
    assert kinds["plat"] == "gene" and kinds["alteplase"] == "alternative"
    assert "tpa" not in kinds  # short alternative name under 4 characters
    names = {n for (n,) in con.execute("SELECT name_norm FROM names WHERE accession='Q00005'")}
    assert "12" not in names and "xy" not in names and "ab" not in names
    con.close()


def test_normalize_name():
    name = "Tissue\u2013type  Plasminogen\nactivator "
    assert normalize_name(name) == "tissue-type plasminogen activator"


def test_rebuild_replaces(tmp_path):
    path = tmp_path / "i.sqlite"
    build_index(HAND, path)
    stats = build_index(HAND[:1], path)
    assert stats.proteins == 1
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM proteins").fetchone() == (1,)
    con.close()


def test_reuse_existing_db(db):
    before = db.stat().st_mtime_ns
    m = MentionMatcher(db)  # opens read-only, no rebuild
    assert m.find("We studied PLAT.")[0].accession == "P00750"
    m.close()
    assert db.stat().st_mtime_ns == before
    with pytest.raises(FileNotFoundError):
        MentionMatcher(db.with_name("absent.sqlite"))


def test_ambiguous_and_stopwords_dropped(matcher):
    assert matcher.ambiguous_names >= 2  # ABC1, "Protein CbbQ"/cbbQ (two organisms)
    assert matcher.stopword_names >= 4  # kinase, cell, CAT, MET, ...
    text = "ABC1 and cbbQ and CAT, MET, Kinase and Cell; 12 XY."
    assert matcher.find(text) == []
    # identical sequences under two accessions are one protein, not ambiguous
    assert [m.accession for m in matcher.find("ZQX7 binds")] == ["Q00003"]


def test_word_boundaries(matcher):
    assert matcher.find("a PLATE of PLATs and aPLAT") == []
    found = matcher.find("(PLAT) and PLAT-1, PLAT.")
    assert [(m.start, m.end) for m in found] == [(1, 5), (11, 15), (19, 23)]


def test_case_rules(matcher):
    # gene symbols are case-sensitive: "plat" is not PLAT
    assert matcher.find("the plat and Plat genes") == []
    # full names are case-insensitive, dashes and whitespace normalised
    text = "TISSUE\u2010TYPE  plasminogen\nActivator"
    (m,) = matcher.find(text)
    assert (m.start, m.end, m.accession) == (0, len(text), "P00750")
    assert m.name == "Tissue-type plasminogen activator"


def test_longest_match_wins(matcher):
    # "Chalcone synthase 3" and "Naringenin-chalcone synthase 3" overlap: the longer one is taken
    text = "naringenin-chalcone synthase 3 is here"
    (m,) = matcher.find(text)
    assert (m.start, m.end, m.accession) == (0, 30, "O23729")


def test_insert_after_first_mention_once(matcher):
    a = art(
        "Tissue-type plasminogen activator in stroke",
        "Recombinant tissue-type plasminogen activator (PLAT) was given. PLAT levels rose.",
        id="42",
    )
    stats = SeqInTextStats()
    doc, mentions = insert_sequences(a, matcher, stats=stats)
    seq = _seq(matcher, "P00750")
    assert len(mentions) == 4 and {m.accession for m in mentions} == {"P00750"}
    assert doc.id == "seq_in_text-42" and doc.subset == "seq_in_text"
    assert doc.text.startswith("Tissue-type plasminogen activator " + seq + " in stroke\n\n")
    assert doc.text.count("<seq>") == 1
    assert doc.meta["accessions"] == ["P00750"]
    assert doc.meta["names"] == ["Tissue-type plasminogen activator"]
    (info,) = doc.meta["mentions"]
    assert doc.text[info["start"] : info["end"]] == "Tissue-type plasminogen activator"
    assert doc.text[info["seq_start"] : info["seq_end"]] == seq
    assert (stats.articles, stats.with_mentions, stats.documents, stats.mentions) == (1, 1, 1, 4)


def test_max_proteins(matcher):
    a = art("", "PLAT cleaves; TUSC3 and PLAT again; Alteplase; Granulins.")
    doc, _ = insert_sequences(a, matcher, max_proteins=2, seq_tags=("<p>", "</p>"), seq_sep="")
    s1, s2 = matcher.sequence("P00750"), matcher.sequence("Q13454")
    want = f"PLAT <p>{s1}</p> cleaves; TUSC3 <p>{s2}</p> and PLAT again; Alteplase; Granulins."
    assert doc.text == want
    assert doc.meta["accessions"] == ["P00750", "Q13454"]
    for info in doc.meta["mentions"]:
        assert doc.text[info["seq_start"] : info["seq_end"]].startswith("<p>M")


def test_no_mention_gives_none(matcher):
    stats = SeqInTextStats()
    docs = list(build_documents([art("Cell biology", "Was the kinase large?"), art("PLAT", id="2")],
                                matcher, stats))
    assert [d.id for d in docs] == ["seq_in_text-2"]
    assert (stats.articles, stats.with_mentions, stats.documents) == (2, 1, 1)
    assert stats.ambiguous_names == matcher.ambiguous_names and stats.stopword_names > 0
    deleted = Article(id="3", title="PLAT", sections=(), deleted=True)
    assert insert_sequences(deleted, matcher) == (None, [])


def test_structured_abstract_labels(matcher):
    a = Article(id="5", title="T", sections=(Section("BACKGROUND", "TUSC3 matters."),))
    doc, (m,) = insert_sequences(a, matcher)
    assert doc.text.startswith("T\n\nBACKGROUND: TUSC3 <seq> M ")
    assert m == Mention(m.start, m.end, "TUSC3", "Q13454")
