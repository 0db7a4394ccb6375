"""The review pages. Every state change is a POST whose decision is committed before the redirect
(POST-redirect-GET): a page the browser shows after a decision proves the decision is on disk."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from proteinlm.benchgen.review.agreement import STATUSES, status, summary
from proteinlm.benchgen.review.store import REASONS
from proteinlm.errors import ProteinLMError

review = Blueprint("review", __name__)
MAX_NAME = 200


def _reviewer() -> str | None:
    return session.get("reviewer") or current_app.config["REVIEW_DEFAULT_REVIEWER"]


def _need_reviewer() -> str:
    name = _reviewer()
    if not name:
        abort(redirect(url_for("review.login", next=request.path)))
    return name


def _progress(finals=None) -> dict:
    finals = g.store.finals() if finals is None else finals
    return summary(g.store.order(), finals, g.store.reviews_needed)


def _safe_next(target: str | None) -> str:
    """Only a path of this app (no scheme, no host) is a place to return to after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("review.next_question")


@review.route("/login", methods=["GET", "POST"])
def login():
    token = current_app.config["REVIEW_TOKEN"]
    error = None
    if request.method == "POST":
        name = request.form.get("reviewer", "")
        given = request.form.get("token", "")
        if token is not None and not session.get("access") and not hmac.compare_digest(given.encode(), token.encode()):
            error = "That access token is not the one this server printed."
        elif not name.strip():
            error = "Please give your name: every decision is recorded under it."
        elif len(name) > MAX_NAME:
            error = f"A name of at most {MAX_NAME} characters, please."
        else:
            if token is not None:
                session["access"] = True
            session["reviewer"] = name  # stored as given; only ever a bound SQL parameter
            return redirect(_safe_next(request.form.get("next")))
    return render_template("login.html", error=error, need_token=token is not None and not session.get("access"),
                           name=_reviewer() or "", next=request.values.get("next", "")), (400 if error else 200)


@review.route("/")
def next_question():
    """The first question this reviewer has not reviewed that still needs reviews; questions another
    reviewer has open, and those this reviewer skipped, come last."""
    reviewer = _need_reviewer()
    finals, needed = g.store.finals(), g.store.reviews_needed
    open_ = [q for q in g.store.order() if reviewer not in finals.get(q, {}) and len(finals.get(q, {})) < needed]
    skipped, others = g.store.skipped_by(reviewer), g.store.claimed_by_others(reviewer)
    for pool in ([q for q in open_ if q not in skipped and q not in others], [q for q in open_ if q not in skipped], open_):
        if pool:
            return redirect(url_for("review.show", position=g.store.position(pool[0])))
    return render_template("done.html", progress=_progress(finals), reviewer=reviewer)


@review.route("/q/<int:position>")
def show(position: int):
    reviewer = _need_reviewer()
    question = g.store.question_at(position) or abort(404)
    g.store.claim(question["qid"], reviewer)
    finals = g.store.finals()
    history = g.store.decisions(question["qid"])
    mine = next((row for row in reversed(history) if row["reviewer"] == reviewer and row["action"] != "edit"), None)
    # where two reviews are needed they should be independent (else the kappa measures little):
    # others' verdicts stay hidden until this reviewer has given one on the current version
    if g.store.reviews_needed > 1 and reviewer not in finals.get(question["qid"], {}):
        shown = [row for row in history if row["reviewer"] == reviewer or row["action"] == "edit"]
    else:
        shown = history
    return render_template("question.html", q=question, history=shown, hidden=len(history) - len(shown),
                           mine=mine, reviewer=reviewer, reasons=REASONS, progress=_progress(finals),
                           status=status(finals.get(question["qid"], {}), g.store.reviews_needed))


def _posted_version(question: dict) -> int:
    try:
        version = int(request.form["version"])
    except (KeyError, ValueError):
        abort(400, "the form did not say which version of the question it shows")
    if g.store.version(question["qid"], version) is None:
        abort(400, f"question {question['qid']} has no version {version}")
    return version


@review.route("/q/<int:position>/decide", methods=["POST"])
def decide(position: int):
    reviewer = _need_reviewer()
    question = g.store.question_at(position) or abort(404)
    action = request.form.get("action", "")
    reason = request.form.get("reason") or None
    note = request.form.get("note", "").strip() or None
    if action == "reject" and reason is None:
        abort(400, "Choose a reason for the rejection.")
    if action == "reject" and reason == "other" and not note:
        abort(400, "A rejection for another reason needs a few words saying which.")
    try:
        g.store.decide(question["qid"], _posted_version(question), reviewer, action, reason, note)
    except ProteinLMError as e:
        abort(400, str(e))
    word = {"accept": "Accepted", "reject": "Rejected", "skip": "Skipped"}[action]
    flash(f"{word} question {position + 1} ({question['qid']}).")
    return redirect(url_for("review.next_question"), code=303)


@review.route("/q/<int:position>/edit", methods=["GET", "POST"])
def edit(position: int):
    reviewer = _need_reviewer()
    question = g.store.question_at(position) or abort(404)
    if request.method == "GET":
        return render_template("edit.html", q=question, progress=_progress(), reviewer=reviewer)
    version = _posted_version(question)
    options = [text.strip() for text in request.form.getlist("option")]
    content = {"question": request.form.get("question", "").strip(), "options": options,
               "explanation": request.form.get("explanation", "").strip()}
    try:
        content["answer"] = int(request.form.get("answer", ""))
    except ValueError:
        abort(400, "Mark which option is the answer.")
    if not content["question"] or len(options) < 2 or not all(options) or not 0 <= content["answer"] < len(options):
        abort(400, "The question, every option and the answer must be given.")
    if content == g.store.version(question["qid"], version):
        flash("Nothing changed: no new version saved.")
    else:
        new = g.store.edit(question["qid"], version, reviewer, content, request.form.get("note", "").strip() or None)
        flash(f"Saved as version {new} of question {position + 1}; the original is kept.")
    return redirect(url_for("review.show", position=position), code=303)


def _matches(row: dict, args) -> bool:
    if args.get("status") and row["status"] != args["status"]:
        return False
    if args.get("reviewer") and args["reviewer"] not in row["finals"]:
        return False
    if args.get("reason") and args["reason"] not in {r["reason"] for r in row["finals"].values()}:
        return False
    if args.get("article") and args["article"] != (row["article"] or ""):
        return False
    for bound, keep in (("min_score", lambda s, b: s >= b), ("max_score", lambda s, b: s <= b)):
        if args.get(bound):
            try:
                limit = float(args[bound])
            except ValueError:
                abort(400, f"{bound} must be a number")
            if row["score"] is None or not keep(row["score"], limit):
                return False
    needle = args.get("q", "").strip().casefold()
    return not needle or needle in row["haystack"]


@review.route("/list")
def list_view():
    reviewer = _need_reviewer()
    finals, needed = g.store.finals(), g.store.reviews_needed
    rows = []
    for question in g.store.questions():
        prov, content = question["provenance"], question["content"]
        article = prov.get("article") if isinstance(prov.get("article"), dict) else {}
        score = (prov.get("scores") or {}).get("combined") if isinstance(prov.get("scores"), dict) else None
        mine = finals.get(question["qid"], {})
        rows.append({
            "q": question, "finals": mine, "status": status(mine, needed), "article": article.get("id"),
            "score": score if isinstance(score, (int, float)) else None,
            "haystack": " ".join([question["qid"], content["question"], *content["options"], content["explanation"],
                                  str(article.get("title") or "")]).casefold(),
        })
    shown = [row for row in rows if _matches(row, request.args)]
    reviewers = sorted({r for by_reviewer in finals.values() for r in by_reviewer})
    articles = sorted({row["article"] for row in rows if row["article"]})
    return render_template("list.html", rows=shown, total=len(rows), args=request.args, statuses=STATUSES,
                           reasons=REASONS, reviewers=reviewers, articles=articles, progress=_progress(finals),
                           reviewer=reviewer)


@review.route("/stats")
def stats():
    reviewer = _need_reviewer()
    return render_template("stats.html", progress=_progress(), reasons=REASONS, reviewer=reviewer)
