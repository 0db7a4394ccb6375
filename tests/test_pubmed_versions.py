"""PubMed's "last event wins" reduce (literature/pubmed_versions.py): the rule on hand-made events,
its counts in the manifest and on screen for a build of real PubMed files with an update file, and
the datatrove "versions" stage storing the same result with its counts as datatrove stats."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proteinlm.cli import app
from proteinlm.dataset.literature import stages
from proteinlm.dataset.literature.pipeline import LiteratureOptions, build_literature, reduce_versions
from proteinlm.dataset.literature.pubmed_versions import last_events
from proteinlm.dataset.engine.stage_results import load
from proteinlm.dataset.literature.stage_files import _versions_file

DATA = Path(__file__).parents[1].parent / "shared" / "data"
FIX = Path(__file__).parent / "fixtures" / "literature"
PUBMED = DATA / "pubmed"
needs_pubmed = pytest.mark.skipif(not PUBMED.is_dir(), reason="shared real data not found")
# a baseline cut (604 citations, one DeleteCitation of a PMID it does not hold), two files of two citations,
# and an update file that adds two, revises 11748933 (pubmed2.xml) and deletes 12091962 (pubmed1.xml)
INPUTS = [PUBMED / "medline16n0902.xml.gz", PUBMED / "pubmed1.xml", PUBMED / "pubmed2.xml", FIX / "pubmed_update.xml"]


def test_last_event_wins():
    baseline = [("1", False), ("2", False), ("3", False)]
    update1 = [("2", False), ("3", True), ("9", True)]  # revises 2, deletes 3, deletes 9 never read
    update2 = [("3", False), ("9", True)]  # adds 3 back, deletes 9 again
    last, st = last_events(iter([baseline, update1, update2]))  # a stream: the local pool's results
    assert last == {"1": (0, 0), "2": (1, 0), "3": (2, 0), "9": None}
    assert st.events == [3, 3, 2] and (st.citations, st.deletions, st.pmids, st.kept) == (5, 3, 4, 3)
    assert (st.superseded, st.deleted, st.deleted_unknown, st.deleted_again, st.readded) == (1, 1, 1, 1, 1)
    # a deletion after the last version removes it; a version after that deletion would win again
    last, st = last_events([[("7", False)], [("7", False), ("7", True)]])
    assert last == {"7": None} and (st.superseded, st.deleted, st.kept) == (1, 1, 0)
    assert last_events([])[0] == {} and last_events([[]])[1].events == [0]


@needs_pubmed
def test_build_records_versions_and_shows_them(tmp_path):
    out = tmp_path / "o"
    args = ["build", "pubmed", *[a for p in INPUTS for a in ("-i", str(p))], "--out", str(out),
            "--tokenizer", "none", "--no-near-dedup"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    v = m["versions"]
    assert v["events"] == [605, 2, 2, 4] and v["deletions"] == 2
    assert (v["superseded"], v["deleted"], v["deleted_unknown"], v["deleted_again"], v["readded"]) == (1, 1, 1, 0, 0)
    assert v["citations"] == v["kept"] + v["superseded"] + v["deleted"] == 611 and v["pmids"] == 611
    # the docs pass reads the same citations and keeps exactly the winners
    c = m["counts"]
    assert c["citations"] == v["citations"] and c["delete_records"] == v["deletions"]
    assert c["citations"] - c["superseded"] - c["deleted_later"] == v["kept"] == m["steps"][0]["in"]
    line = next(ln for ln in res.output.splitlines() if ln.startswith("versions "))
    assert "citations 611 superseded 1 deleted 1" in line and "609 PMIDs kept" in line


@needs_pubmed
@pytest.mark.skipif(stages.PipelineStep is object, reason="datatrove not installed (the scale extra)")
def test_datatrove_versions_stage_stores_the_reduce(tmp_path):
    from proteinlm.dataset.engine.executors import ExecutorSpec

    o = LiteratureOptions(subset="pubmed", inputs=[str(p) for p in INPUTS[1:]], out=str(tmp_path / "dt"),
                          tokenizer="none", near_dedup=False)
    m = stages.run_build(o, ExecutorSpec("datatrove-local", tasks=2))
    last, st = load(_versions_file(o))
    local = tmp_path / "local"
    assert (last, st) == reduce_versions(LiteratureOptions(**{**o.__dict__, "out": str(local)}))
    assert m["versions"] == st.as_dict() and (st.superseded, st.deleted, st.kept) == (1, 1, 5)
    assert m == build_literature(LiteratureOptions(**{**o.__dict__, "out": str(local)}))
    logs = tmp_path / "dt" / ".state" / "datatrove" / "versions"
    (stats,) = json.loads((logs / "stats.json").read_text())  # datatrove's merged stats of the one task
    totals = {k: v["total"] if isinstance(v, dict) else v for k, v in stats["stats"].items()}  # 1s are plain ints
    assert totals == {**{k: v for k, v in st.as_dict().items() if k != "events"}, "events": 8}
