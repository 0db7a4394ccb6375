"""The review database and the app's guards (CSRF, access token, escaping), without a browser:
the real Flask app through its test client, the real SQLite file."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading

import pytest

from conftest import REPO
from proteinlm.benchgen.review.agreement import cohen_kappa, kept, status
from proteinlm.benchgen.review.app import create_app, highlight
from proteinlm.benchgen.review.questions import read_items, text_id
from proteinlm.benchgen.review.server import is_loopback, open_review
from proteinlm.benchgen.review.store import ReviewStore
from proteinlm.errors import BenchDataError, ProteinLMError

FIXTURE = REPO / "tests" / "fixtures" / "review_run"


@pytest.fixture
def run_dir(tmp_path):
    target = tmp_path / "run"
    shutil.copytree(FIXTURE, target)
    return target


def csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def test_run_dir_questions_carry_provenance(run_dir):
    items = read_items(run_dir)
    assert [i.qid for i in items][:2] == ["PMC100:c0:q0", "PMC100:c0:q1"]
    assert items[0].content["answer"] == 1 and items[0].content["options"][1] == "Helicase"
    assert items[0].provenance["article"]["id"] == "PMC100"


def test_plain_file_without_ids_gets_text_hash_ids_and_keeps_its_fields(tmp_path):
    rows = [{"question": "Which residue is achiral?", "options": ["Glycine", "Alanine"], "answer": "option 1",
             "category": "function", "accession": "P12345"},
            {"id": "uniprot-name-P1", "question": "Which protein?", "options": ["A", "B"], "answer": 2}]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(rows))
    items = read_items(path)
    assert items[0].qid == text_id("Which residue is achiral?") and items[1].qid == "uniprot-name-P1"
    assert items[0].extra == {"category": "function", "accession": "P12345"} and items[0].provenance == {}


def test_broken_provenance_line_is_named(run_dir):
    with (run_dir / "provenance.jsonl").open("a") as out:
        out.write("{not json\n")
    with pytest.raises(BenchDataError, match=r"provenance.jsonl: line 7"):
        read_items(run_dir)


def test_decisions_versions_and_finals(run_dir):
    setup = open_review(run_dir)
    store = setup.store
    assert setup.added == 6 and store.path == run_dir / "review.sqlite"
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.decide("PMC100:c0:q0", 0, "alice", "accept")
    store.decide("PMC100:c0:q0", 0, "alice", "reject", "trivial")  # a changed mind: the latest counts
    new = store.edit("PMC100:c0:q1", 0, "bob", {"question": "Edited?", "options": ["a", "b"], "answer": 1, "explanation": ""})
    store.decide("PMC100:c0:q1", new, "bob", "accept")
    with pytest.raises(ProteinLMError, match="reasons"):
        store.decide("PMC100:c0:q0", 0, "alice", "reject", "because")
    assert store.question("PMC100:c0:q1")["content"]["question"] == "Edited?"
    assert store.version("PMC100:c0:q1", 0)["question"].startswith("Which residue")  # the original is kept
    finals = store.finals()
    assert finals["PMC100:c0:q0"]["alice"]["reason"] == "trivial"
    assert [d["action"] for d in store.decisions()] == ["accept", "reject", "edit", "accept"]
    # reopening adds nothing and keeps every row
    again = open_review(run_dir)
    assert again.added == 0 and len(again.store.decisions()) == 4


def test_two_stores_on_one_file_write_concurrently(run_dir):
    open_review(run_dir)
    errors = []

    def review(name):
        try:
            store = ReviewStore(run_dir / "review.sqlite")
            for qid in store.order():
                store.decide(qid, 0, name, "accept")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=review, args=(n,)) for n in ("alice", "bob", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    count = sqlite3.connect(run_dir / "review.sqlite").execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    assert count == 18


def test_status_policies_and_kappa():
    a, r = {"action": "accept"}, {"action": "reject"}
    assert status({}, 1) == "pending" and status({"x": a}, 2) == "partial"
    assert status({"x": a, "y": r}, 2) == "disputed" and status({"x": r}, 1) == "rejected"
    two = {"x": a, "y": r}
    assert kept(two, 2, "any-accept") and not kept(two, 2, "all-accept") and not kept(two, 2, "majority")
    assert kept({"x": a, "y": a, "z": r}, 2, "majority") and not kept({"x": a}, 2, "any-accept")
    # 3 of 4 agree; rater 1 accepts 3/4, rater 2 2/4: chance agreement 0.5, kappa 0.5
    assert cohen_kappa([("a", "a"), ("a", "a"), ("a", "r"), ("r", "r")]) == pytest.approx(0.5)
    assert cohen_kappa([("a", "a"), ("a", "a")]) is None and cohen_kappa([]) is None


def test_highlight_escapes_before_marking():
    html = str(highlight("<b>x</b> the SPAN <img onerror=alert(1)>", "the span"))
    assert html == "&lt;b&gt;x&lt;/b&gt; <mark>the SPAN</mark> &lt;img onerror=alert(1)&gt;"
    assert str(highlight("a <script>", "nowhere")) == "a &lt;script&gt;"
    assert "<mark>quoted span</mark>" in str(highlight("a quoted span here", "the quoted span"))


def test_post_without_csrf_token_is_refused_and_names_are_data(run_dir):
    setup = open_review(run_dir)
    client = create_app(setup.store).test_client()
    assert client.get("/").headers["Location"].startswith("/login")
    page = client.get("/login").data
    assert client.post("/login", data={"reviewer": "x"}).status_code == 400  # no CSRF token
    name = "<b>r'); DROP TABLE decisions; --"
    client.post("/login", data={"reviewer": name, "csrf_token": csrf(page)})
    page = client.get("/q/2").data
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page and b"<script>alert" not in page
    assert b"&lt;b&gt;r&#39;); DROP TABLE" in page
    assert client.post("/q/2/decide", data={"action": "accept", "version": "0"}).status_code == 400
    response = client.post("/q/2/decide", data={"action": "accept", "version": "0", "csrf_token": csrf(page)})
    assert response.status_code == 303
    assert setup.store.decisions()[0]["reviewer"] == name
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_off_loopback_a_token_is_required(run_dir):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
    setup = open_review(run_dir, host="0.0.0.0")
    assert setup.token and len(setup.token) >= 16
    client = create_app(setup.store, reviewer="alice", token=setup.token).test_client()
    assert client.get("/q/0").headers["Location"].startswith("/login")
    assert client.get("/q/0?token=wrong-token-wrong-token").headers["Location"].startswith("/login")
    assert client.get(f"/q/0?token={setup.token}").headers["Location"] == "/q/0"  # token dropped from the URL
    assert client.get("/q/0").status_code == 200
    with pytest.raises(ProteinLMError, match="16 characters"):
        open_review(run_dir, token="short")


def test_two_reviewers_are_handed_different_questions(run_dir):
    setup = open_review(run_dir, reviews_needed=2)
    app = create_app(setup.store)
    alice, bob = app.test_client(), app.test_client()
    for client, name in ((alice, "alice"), (bob, "bob")):
        client.post("/login", data={"reviewer": name, "csrf_token": csrf(client.get("/login").data)})
    assert alice.get("/").headers["Location"] == "/q/0"
    page = alice.get("/q/0").data  # alice has question 1 open: bob gets question 2
    assert bob.get("/").headers["Location"] == "/q/1"
    alice.post("/q/0/decide", data={"action": "accept", "version": "0", "csrf_token": csrf(page)})
    for position in range(6):
        page = bob.get(f"/q/{position}").data
        bob.post(f"/q/{position}/decide", data={"action": "accept", "version": "0", "csrf_token": csrf(page)})
    assert b"Nothing left for you" in bob.get("/").data
    assert alice.get("/").headers["Location"] == "/q/1"  # the rest still need alice's (second) review
