"""`benchgen export`: policies, the option shuffle with the explanation rewritten, the review log and
summary, and a bench that the bench loader reads."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from conftest import REPO
from proteinlm.bench.loaders import load_bench
from proteinlm.benchgen.review.export import export
from proteinlm.benchgen.review.server import open_review
from proteinlm.benchgen.shuffle import cited_numbers
from proteinlm.cli import app

FIXTURE = REPO / "tests" / "fixtures" / "review_run"
runner = CliRunner()


@pytest.fixture
def reviewed(tmp_path):
    """The fixture run reviewed by two reviewers (two reviews needed): q0 both accept, q1 split,
    q3 edited by bob then both accept the edit, q4 both reject, q5 only alice (still needs a review)."""
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    store = open_review(run, reviews_needed=2).store
    for qid in ("PMC100:c0:q0", "PMC100:c0:q1", "PMC200:c3200:q1", "PMC300:c0:q1"):
        store.decide(qid, 0, "alice", "accept")
    store.decide("PMC100:c0:q0", 0, "bob", "accept")
    store.decide("PMC100:c0:q1", 0, "bob", "reject", "several_correct")
    original = store.version("PMC200:c3200:q1", 0)
    edited = dict(original, question="In which organelle does oxidative phosphorylation take place?")
    version = store.edit("PMC200:c3200:q1", 0, "bob", edited, "clearer stem")
    store.decide("PMC200:c3200:q1", version, "bob", "accept")
    store.decide("PMC300:c0:q0", 0, "alice", "reject", "trivial")
    store.decide("PMC300:c0:q0", 0, "bob", "reject", "duplicate")
    store.decide("PMC200:c3200:q0", 0, "bob", "skip")
    # alice accepted the text before bob's edit: that no longer counts until she accepts the new one
    assert set(store.finals()["PMC200:c3200:q1"]) == {"bob"}
    store.decide("PMC200:c3200:q1", version, "alice", "accept")
    store.close()
    return run


def exported_ids(path) -> list[str]:
    return [r["id"] for r in json.loads(path.read_text())]


def test_policies(reviewed, tmp_path):
    db = reviewed / "review.sqlite"
    assert exported_ids(export(db, tmp_path / "all.json", policy="all-accept").out) == ["PMC100:c0:q0", "PMC200:c3200:q1"]
    assert exported_ids(export(db, tmp_path / "any.json", policy="any-accept").out) == [
        "PMC100:c0:q0", "PMC100:c0:q1", "PMC200:c3200:q1"]
    assert exported_ids(export(db, tmp_path / "maj.json", policy="majority").out) == ["PMC100:c0:q0", "PMC200:c3200:q1"]


def test_export_shuffles_rewrites_and_loads(reviewed, tmp_path):
    original = {r["id"]: r for r in json.loads((reviewed / "bench.json").read_text())}
    out = tmp_path / "reviewed" / "bench.json"
    result = export(reviewed / "review.sqlite", out, policy="any-accept", seed=3)
    bench = load_bench(str(out))
    assert [q.id for q in bench.records] == ["PMC100:c0:q0", "PMC100:c0:q1", "PMC200:c3200:q1"]
    moved = 0
    for mcq in bench.records:
        before = [re.sub(r"^option \d+: ", "", o) for o in original[mcq.id]["options"]]
        old_answer = int(original[mcq.id]["answer"].split()[-1]) - 1
        assert sorted(mcq.options) == sorted(before) and mcq.options[mcq.answer] == before[old_answer]
        # every option number the explanation cites names the same option text as before
        old_cited = [before[n - 1] for n in cited_numbers(original[mcq.id]["explanation"])]
        assert [mcq.options[n - 1] for n in cited_numbers(mcq.explanation)] == old_cited
        moved += list(mcq.options) != before
    assert moved >= 2
    edited = next(q for q in bench.records if q.id == "PMC200:c3200:q1")
    assert edited.question.startswith("In which organelle") and edited.meta["review_version"] == 1
    log = [json.loads(line) for line in result.log.read_text().splitlines()]
    assert len(log) == 12 and log[6]["action"] == "edit" and log[6]["before"]["question"].startswith("Which organelle")
    summary = json.loads(result.summary_path.read_text())
    assert summary["statuses"] == {"pending": 1, "partial": 1, "accepted": 2, "rejected": 1, "disputed": 1}
    assert summary["reject_reasons"] == {"several_correct": 1, "trivial": 1, "duplicate": 1}
    pair = summary["agreement"][0]
    assert pair["reviewers"] == ["alice", "bob"] and pair["questions"] == 4
    # agree on 3 of 4 (accept, accept, reject) and split on one: kappa = (0.75 - 0.5) / 0.5
    assert pair["kappa"] == pytest.approx(0.5)
    assert "Cohen's kappa" in (out.parent / "review_summary.txt").read_text()
    # the same seed gives the same file
    again = export(reviewed / "review.sqlite", tmp_path / "again.json", policy="any-accept", seed=3)
    assert again.out.read_text() == out.read_text()


def test_cli_export(reviewed, tmp_path):
    out = tmp_path / "bench.json"
    done = runner.invoke(app, ["benchgen", "export", str(reviewed), "--out", str(out), "--policy", "majority"])
    assert done.exit_code == 0, done.output
    assert "2 questions" in done.output and "Rejections by reason" in done.output
    assert len(load_bench(str(out)).records) == 2
    done = runner.invoke(app, ["benchgen", "export", "--db", str(tmp_path / "none.sqlite"), "--out", str(out)])
    assert done.exit_code == 2 and "review database not found" in done.output
    done = runner.invoke(app, ["benchgen", "export", str(reviewed), "--out", str(out), "--policy", "unanimous"])
    assert done.exit_code == 2 and "unknown policy" in done.output


def test_nothing_accepted_is_an_error(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    open_review(run).store.decide("PMC100:c0:q0", 0, "alice", "reject", "ambiguous")
    done = runner.invoke(app, ["benchgen", "export", str(run), "--out", str(tmp_path / "b.json")])
    assert done.exit_code == 1 and "no question is accepted" in done.output
    assert not (tmp_path / "b.json").exists() and (tmp_path / "review_log.jsonl").read_text().count("\n") == 1


def test_uniprot_shaped_file_keeps_its_fields(tmp_path):
    rows = [{"id": f"uniprot-location-P0{i}", "category": "location", "accession": f"P0{i}",
             "question": f"Where is protein {i} found?\n<seq> M K </seq>",
             "options": ["option 1: Nucleus", "option 2: Cytoplasm", "option 3: Secreted"],
             "answer": "option 2", "explanation": "Cytoplasm (P0 subcellular location)."} for i in range(3)]
    path = tmp_path / "uniprot.json"
    path.write_text(json.dumps(rows))
    store = open_review(path).store
    assert store.path == tmp_path / "uniprot.review.sqlite"
    store.decide("uniprot-location-P01", 0, "alice", "accept")
    done = runner.invoke(app, ["benchgen", "export", str(path), "--out", str(tmp_path / "out" / "bench.json")])
    assert done.exit_code == 0, done.output
    (record,) = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert record["category"] == "location" and record["accession"] == "P01"
    assert load_bench(str(tmp_path / "out" / "bench.json")).records[0].category == "location"
