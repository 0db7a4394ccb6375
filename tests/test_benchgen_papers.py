"""benchgen from-papers, the steps that need no model: chunking of real PMC articles, reading and
checking generated questions, prompt files, dedup, shuffle and selection."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from proteinlm.benchgen.papers.chunk import BLOCK_SEP, chunk_article, passages, read_articles
from proteinlm.benchgen.papers.generate import read_json
from proteinlm.benchgen.papers.prompts import load_templates
from proteinlm.benchgen.papers.select import dedup, select, shuffle
from proteinlm.benchgen.papers.stages import Candidate, StageCounts
from proteinlm.benchgen.papers.validate import QUOTE_THRESHOLD, check, quote_match
from proteinlm.errors import PromptFormatError, ProteinLMError
from proteinlm.records import MCQ

PMC = sorted((SHARED_DATA / "pmc").glob("*.nxml"))


@functools.lru_cache(maxsize=1)
def _articles():
    return tuple(read_articles(PMC, on_error=lambda e: pytest.fail(str(e))))


def test_chunks_of_real_articles_are_stable_slices_within_the_limit():
    for article in _articles():
        chunks = chunk_article(article, 5000)
        assert chunks, article.id
        flat = BLOCK_SEP.join(c.text for c in chunks)  # chunks tile the flat text, cut between blocks
        assert chunks[0].start == 0
        for prev, c in zip(chunks, chunks[1:]):
            assert c.start == prev.end + len(BLOCK_SEP)
        for c in chunks:
            assert len(c.text) <= 5000 and c.end - c.start == len(c.text)
            assert c.id == f"{article.pmcid}:c{c.start}"
            assert flat[c.start:c.end] == c.text
            assert "References" not in c.sections
        # section titles are kept, as lines of the text and in Chunk.sections
        titles = [s.title for s in article.sections if s.title]
        assert any(t in chunks[0].text or t in " ".join(c.text for c in chunks) for t in titles)
        # chunking again gives the same ids: nothing depends on which chunks later fail
        assert [c.id for c in chunk_article(article, 5000)] == [c.id for c in chunks]
        for c in chunks:
            for pid, start, end, text in passages(c, 1000):
                assert c.start <= start < end <= c.end and len(text) <= 1000
                assert c.text[start - c.start:end - c.start] == text and pid == f"{c.article_id}:p{start}"


def test_chunk_size_changes_chunks_and_small_sizes_are_refused():
    article = _articles()[0]
    assert len(chunk_article(article, 2000)) > len(chunk_article(article, 5000))
    assert all(len(c.text) <= 2000 for c in chunk_article(article, 2000))
    with pytest.raises(ProteinLMError, match="too small"):
        chunk_article(article, 100)


def test_pubmed_abstracts_chunk_under_pmid_keys():
    arts = list(read_articles([SHARED_DATA / "pubmed" / "pubmed1.xml"], on_error=lambda e: None))
    chunks = [c for a in arts for c in chunk_article(a)]
    assert chunks and all(c.id.startswith("PMID") for c in chunks)


@functools.lru_cache(maxsize=1)
def _chunk():
    return chunk_article(_articles()[0], 5000)[1]


def _raw(chunk, **over):
    sentence = max(chunk.text.split(". "), key=len)
    raw = {"question": "Which finding is reported?", "options": ["a", "b", "c", "d", "e", "f"], "answer": 2,
           "explanation": "Because option 2 is what the text says.", "evidence": sentence}
    return raw | over


def test_check_drops_by_reason():
    chunk = _chunk()
    ok, why = check(_raw(chunk), chunk, "x:q0")
    assert why is None and ok.mcq.answer == 1 and ok.quote_match == 1.0
    # labels the model put in front of options are taken off; "option 3" and "3" are answers
    ok, _ = check(_raw(chunk, options=["A) one", "B) two"], answer="option 2"), chunk, "x:q0")
    assert ok.mcq.options == ("one", "two") and ok.mcq.answer == 1
    cases = {
        "bad_fields": {"options": "a, b"},
        "empty_question": {"question": "  "},
        "bad_options": {"options": ["only one"]},
        "bad_answer": {"answer": 7},
        "long_explanation": {"explanation": "word " * 101},
        "no_quote": {"evidence": "short"},
        "quote_not_in_chunk": {"evidence": "The enzyme was purified from the venom of a deep-sea anglerfish."},
    }
    for reason, over in cases.items():
        assert check(_raw(chunk, **over), chunk, "x:q0") == (None, reason), reason
    assert check(_raw(chunk, options=["same", "Same "]), chunk, "x:q0")[1] == "bad_options"
    assert check(_raw(chunk, options=[f"o{i}" for i in range(11)]), chunk, "x:q0")[1] == "bad_options"


def test_quote_match_tolerates_small_edits_only():
    chunk = _chunk()
    sentence = max(chunk.text.split(". "), key=len)
    words = sentence.split()
    edited = " ".join(words[:3] + ["SOMETHING"] + words[4:])
    assert quote_match(edited, chunk.text) >= QUOTE_THRESHOLD
    assert quote_match(sentence.replace("'", "\u2019").upper(), chunk.text) == 100.0
    other = max(chunk_article(_articles()[3], 5000)[1].text.split(". "), key=len)
    assert quote_match(other, chunk.text) < QUOTE_THRESHOLD


def test_read_json_finds_the_object_in_free_text():
    q = {"question": "q", "options": ["a", "b"], "answer": 1, "explanation": "", "evidence": ""}
    assert read_json(f"Sure! ```json\n{json.dumps({'questions': [q]})}\n``` Hope it helps") == [q]
    assert read_json(json.dumps(q)) == [q]
    for bad in ('{"questions": [{"question": "q", "options": [', "no json here", '{"other": 1}'):
        with pytest.raises(ValueError):
            read_json(bad)


def test_prompt_templates_override_and_errors(tmp_path: Path):
    default = load_templates()
    assert set(default) == {"question", "summarise", "repair", "context"}
    (tmp_path / "question.txt").write_text("Ask about {chunk} with {n_options} options, JSON please.")
    mine = load_templates(tmp_path)
    assert mine["question"].sha256 != default["question"].sha256
    assert mine["context"].sha256 == default["context"].sha256
    (tmp_path / "question.txt").write_text("Ask about {chunk} and {unknown}")
    with pytest.raises(PromptFormatError, match="unknown"):
        load_templates(tmp_path)
    (tmp_path / "question.txt").write_text("No chunk here {title}")
    with pytest.raises(PromptFormatError, match="chunk"):
        load_templates(tmp_path)


def _cand(i: int, question: str, score: float, article: str = "PMC1", level: str = "needs_passage") -> Candidate:
    chunk = _chunk()
    from dataclasses import replace

    chunk = replace(chunk, article_id=article)
    mcq = MCQ(f"{article}:c0:q{i}", question, tuple(f"option text {k}" for k in range(6)), 0,
              "Option 1 is right, not option 3.")
    c = Candidate(mcq, chunk, quote="q", coherence=score, evidence={"score": score})
    c.validator = {"closed_book": {"correct": level == "answerable_closed_book"},
                   "options_only": {"correct": level == "answerable_from_options"}}
    return c


def test_dedup_keeps_the_best_scored_of_near_duplicates():
    a = _cand(0, "Which residue of the holin protein controls the timing of lysis in phage lambda?", 0.5)
    b = _cand(1, "Which residue of the holin protein controls the timing of lysis in phage lambda ?", 0.9)
    c = _cand(2, "What does the enzyme hydrolyse when expressed in E. coli at low temperature?", 0.1)
    counts = StageCounts("dedup")
    kept = dedup([a, b, c], counts)
    assert [x.id for x in kept] == [b.id, c.id]
    assert counts.as_dict()["dropped"] == {"near_duplicate": 1} and counts.balanced()


def test_shuffle_rewrites_answer_and_cited_options():
    c = _cand(0, "q", 0.5)
    shuffle([c], 7, StageCounts("shuffle"))
    order = c.shuffle_order
    assert c.mcq.options[c.mcq.answer] == "option text 0"
    assert f"Option {order.index(0) + 1} is right, not option {order.index(2) + 1}." == c.mcq.explanation


def test_select_published_takes_a_quarter_from_each_of_the_four_lowest_tenths():
    cands = [_cand(i, f"question {i}", i / 100) for i in range(100)]
    counts = StageCounts("select")
    chosen = list(select(cands, "published", 20, 0, counts))
    assert len(chosen) == 20 and counts.as_dict()["dropped"] == {"not_selected": 80}
    tenths = sorted(int(c.combined * 100) // 10 for c in chosen)
    assert tenths == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    assert [c.id for c in chosen] == [c.id for c in select(cands, "published", 20, 0, StageCounts("s"))]


def test_select_stratified_spreads_over_difficulty_and_articles():
    levels = ["needs_passage"] * 30 + ["answerable_closed_book"] * 3 + ["answerable_from_options"] * 30
    cands = [_cand(i, f"q{i}", 0.5, article=f"PMC{i % 5}", level=lvl) for i, lvl in enumerate(levels)]
    chosen = list(select(cands, "stratified", 21, 0, StageCounts("select")))
    by_level = {lvl: sum(c.difficulty == lvl for c in chosen) for lvl in set(levels)}
    assert len(chosen) == 21 and by_level["answerable_closed_book"] == 3
    assert by_level["needs_passage"] == 9 and by_level["answerable_from_options"] == 9
    assert len({c.chunk.article_id for c in chosen if c.difficulty == "needs_passage"}) == 5
    with pytest.raises(ProteinLMError, match="--select"):
        list(select(cands, "stratified", None, 0, StageCounts("select")))


def test_sifts_selection_keeps_articles_cited_by_pdb_entries(tmp_path: Path):
    from proteinlm.benchgen.papers.pipeline import PaperRunOptions, _articles_to_chunks

    first = _articles()[0]
    (tmp_path / "pdb_pubmed.csv").write_text(f"# 2024/01/01 | PDB 1 | UniProt 1\nPDB,ORDINAL,PUBMED_ID\n"
                                             f"1abc,0,{first.pmid}\n2xyz,0,99999999\n")
    (tmp_path / "PMC-ids.csv").write_text(f"Journal Title,PMCID,PMID\nJ,{first.pmcid},{first.pmid}\n")
    opts = PaperRunOptions(inputs=tuple(map(str, PMC)), out=tmp_path, generator="g", validator="v",
                           pdb_pubmed=(str(tmp_path / "pdb_pubmed.csv"),), pmc_ids=(str(tmp_path / "PMC-ids.csv"),))
    counts = StageCounts("chunk", "articles")
    got = list(_articles_to_chunks(opts, counts, log=lambda s: None))
    assert [chunks[0].article_id for chunks in got] == [first.pmcid]
    assert counts.as_dict() == {"unit": "articles", "in": len(PMC), "kept": 1,
                                "dropped": {"not_selected": len(PMC) - 1}}
    with pytest.raises(ProteinLMError, match="go together"):
        PaperRunOptions(inputs=(str(PMC[0]),), out=tmp_path, generator="g", validator="v",
                        pdb_pubmed=(str(tmp_path / "pdb_pubmed.csv"),)).check()
    with pytest.raises(ProteinLMError, match="no such file: .*missing.nxml"):
        PaperRunOptions(inputs=(str(tmp_path / "missing.nxml"),), out=tmp_path, generator="g", validator="v").check()
