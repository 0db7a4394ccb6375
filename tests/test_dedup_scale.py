"""Dedup that scales out keeps what the one-process dedup keeps.

`--executor local` runs exact dedup (a set of text hashes) and near dedup (datasketch LSH) in one
process; `--executor datatrove-local` runs them as sharded stages (hash partitions; datatrove's
MinHash signatures → buckets → clusters → filter). On the real PubMed files plus a corpus of real
abstracts with planted copies (exact, re-spaced, one or two words changed) spread over several
files, so that duplicates cross task boundaries, both must keep the same documents, drop the
planted copies and nothing else, and write the same bytes.
"""

import copy
import gzip
import json
import re
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from proteinlm.cli import app
from proteinlm.dataset.literature import dedup_stages

DATA = Path(__file__).parents[1].parent / "shared" / "data"
PUBMED = DATA / "pubmed"
needs_data = pytest.mark.skipif(not PUBMED.is_dir(), reason="shared real data not found")
needs_datatrove = pytest.mark.skipif(dedup_stages.PipelineStep is object, reason="datatrove not installed (the scale extra)")
runner = CliRunner()
WORD = re.compile(r"\w+")


def _long_articles(min_words: int):
    """Real MEDLINE citations whose abstract has at least `min_words` words, in file order."""
    with gzip.open(PUBMED / "medline16n0902.xml.gz") as fh:
        root = etree.parse(fh, etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    for art in root.iter("MedlineCitation"):
        text = " ".join("".join(t.itertext()) for t in art.iter("AbstractText"))
        if len(WORD.findall(text)) >= min_words:
            yield art


def _copy(art, pmid: int, change_words: int = 0, respace: bool = False):
    """A copy of `art` under a new PMID; `change_words` words of its longest abstract paragraph
    replaced (spread over the text), or its spaces doubled (`respace`: an exact duplicate)."""
    new = copy.deepcopy(art)
    new.find("PMID").text = str(pmid)
    body = max(new.iter("AbstractText"), key=lambda t: len("".join(t.itertext())))
    text = "".join(body.itertext())
    for child in list(body):
        body.remove(child)
    words = text.split(" ")
    for k in range(change_words):
        words[(k + 1) * len(words) // (change_words + 1)] = f"xylophone{k}"
    body.text = ("  " if respace else " ").join(words)
    return new


def _write(path: Path, articles) -> Path:
    root = etree.Element("MedlineCitationSet")  # the 2016 MEDLINE layout of the source file
    root.extend(articles)
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return path


def _planted(tmp: Path) -> tuple[list[Path], set[str]]:
    """Four files: 60 real abstracts (>= 250 words) in files 1-3, and copies of earlier ones in
    files 2-4. Returns the files and the ids the dedup must drop."""
    arts = list(_long_articles(250))[:60]
    assert len(arts) == 60
    drop: set[str] = set()
    pmid = 90000000

    def planted(art, **change):
        nonlocal pmid
        pmid += 1
        drop.add(f"pubmed-pmid:{pmid}")
        return _copy(art, pmid, **change)

    f1 = arts[:20]
    f2 = arts[20:40] + [planted(a, respace=True) for a in arts[:5]]  # exact, spacing aside
    f3 = arts[40:60] + [planted(a, change_words=1) for a in arts[5:12]] + [planted(a, change_words=1) for a in arts[20:25]]
    long = [a for a in arts if len(WORD.findall(" ".join("".join(t.itertext()) for t in a.iter("AbstractText")))) >= 300]
    f4 = [planted(a, change_words=2) for a in long[:4]] + [planted(a, change_words=1) for a in arts[45:50]]
    f4 += [planted(a, respace=True) for a in arts[50:53]]
    files = [_write(tmp / f"planted{i}.xml", f) for i, f in enumerate((f1, f2, f3, f4), 1)]
    return files, drop


def _build(tmp: Path, name: str, inputs: list[Path], *executor: str) -> tuple[dict, Path]:
    out = tmp / name
    args = ["build", "pubmed", "--out", str(out), "--tokenizer", "none", "--shard-docs", "50", *executor]
    for p in inputs:
        args += ["-i", str(p)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads((out / "manifest.json").read_text()), out


def _kept_ids(out: Path) -> list[str]:
    ids = []
    for shard in sorted((out / "pretrain" / "pubmed").glob("train-*.jsonl.gz")):
        with gzip.open(shard, "rt") as fh:
            ids += [json.loads(line)["id"] for line in fh]
    return ids


@needs_data
@needs_datatrove
def test_sharded_dedup_keeps_the_one_process_kept_set(tmp_path):
    planted, drop = _planted(tmp_path)
    real = [PUBMED / "pubmed2.xml", PUBMED / "pubmed-29768149.xml", PUBMED / "test_current_medline.xml.gz"]
    inputs = [*real, *planted]
    local, local_out = _build(tmp_path, "local", inputs)
    dt, dt_out = _build(tmp_path, "dt", inputs, "--executor", "datatrove-local", "--tasks", "3", "--workers", "2")

    kept = _kept_ids(local_out)
    assert _kept_ids(dt_out) == kept
    assert not drop & set(kept)  # every planted copy dropped ...
    steps = {s["name"]: s for s in local["steps"]}
    # ... and nothing else
    assert steps["exact_dedup"]["reasons"] == {"exact_duplicate": 8}
    assert steps["near_dedup"]["reasons"] == {"near_duplicate": len(drop) - 8}
    # same stats and examples (duplicate_of: the first document of the cluster), same bytes
    assert dt["steps"] == local["steps"] and dt["documents"] == local["documents"] == len(kept)
    shards = sorted(p.name for p in (local_out / "pretrain" / "pubmed").iterdir())
    assert [(dt_out / "pretrain" / "pubmed" / n).read_bytes() for n in shards] == \
        [(local_out / "pretrain" / "pubmed" / n).read_bytes() for n in shards]
    assert (dt_out / "manifest.json").read_bytes() == (local_out / "manifest.json").read_bytes()
    # no stage saw every document: each clean/filter task wrote its own run of the input
    work = dt_out / ".state" / "dedup-3tasks"
    sizes = [sum(1 for _ in dedup_stages.sd.read_stream(work / "kept" / f"{r:05d}.pkl.gz")) for r in range(3)]
    assert sum(sizes) == len(kept) and max(sizes) < len(kept)
    assert len(list((work / "minhash" / "buckets").glob("*.dups"))) == 9  # one bucket task per band


@needs_datatrove
def test_cluster_step_confirms_band_matches_and_keeps_the_first_document(tmp_path):
    """Band matches (the buckets stage's pairs) below the threshold are not duplicates, and a
    cluster keeps its earliest document even when the pairs arrive in an order in which a union
    by size would make a later one the root."""
    import struct

    import numpy as np

    from proteinlm.dataset.steps import sharded_dedup as sd

    cfg = sd.minhash_config(0.8)
    n = cfg.num_buckets * cfg.hashes_per_bucket
    rng = np.random.default_rng(0)
    base, other = rng.integers(0, 2**63, n, dtype=np.uint64), rng.integers(0, 2**63, n, dtype=np.uint64)

    def near(sig, changed):  # `changed` of the n hashes differ: estimated Jaccard 1 - changed/n
        out = sig.copy()
        out[:changed] += np.uint64(1)
        return out

    sigs = {0: [base, other], 1: [near(base, 5), near(other, 40), near(base, 10)]}  # J 0.96 | 0.66 | 0.91
    for rank, rows in sigs.items():
        (tmp_path / "sigs" / "full").mkdir(parents=True, exist_ok=True)
        (tmp_path / "sigs" / "full" / f"{rank:05d}.sig").write_bytes(b"".join(struct.pack(f"<{n}Q", *r) for r in rows))
    (tmp_path / "dups").mkdir()
    pairs = [(1, 0, 1, 2), (0, 0, 1, 2), (0, 1, 1, 1), (0, 0, 1, 2)]  # (1,0)+(1,2) first; a repeated pair
    (tmp_path / "dups" / "00000_00.dups").write_bytes(b"".join(struct.pack("<4I", *p) for p in pairs))
    step = sd.FirstKeptCluster(str(tmp_path / "dups"), str(tmp_path / "clusters"), str(tmp_path / "sigs"), 0.8, config=cfg)
    step.run()
    from datatrove.io import get_datafolder

    folder = get_datafolder(str(tmp_path / "clusters"))
    assert list(sd.kept_by(folder, 1)) == [(0, 0, 0), (2, 0, 0)]  # both copies of (0, 0) go, (1, 1) stays
    assert list(sd.kept_by(folder, 0)) == [] and not (tmp_path / "clusters" / "000000.remove").exists()
    assert (tmp_path / "clusters" / "000001.remove").read_bytes() == struct.pack("<2I", 0, 2)
