"""The review web app: a Flask app over one `ReviewStore`, pages rendered by Jinja2 with autoescape.

Security, in one place: every page escapes what it shows (autoescape; the evidence highlight escapes
each piece before marking it), every POST carries the session's CSRF token (Flask-WTF), the session
cookie is HttpOnly and SameSite=Lax, the Content-Security-Policy allows only the app's own script
and style (no inline script runs, even one that slipped through), and when the app is given an
access token (required off 127.0.0.1) no page opens without it.
"""

from __future__ import annotations

import difflib
import hmac
from typing import Any

from flask import Flask, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup, escape

from proteinlm.benchgen.review.store import ReviewStore
from proteinlm.benchgen.review.views import review

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
_OPEN_ENDPOINTS = {"static", "review.login"}


def highlight(passage: str, quote: str) -> Markup:
    """`passage` as safe HTML with the span that best matches `quote` in <mark>.

    The passage is cut into before / span / after as plain text and each piece is escaped, so the
    markup added is the only markup there is. An exact (case-insensitive) match wins; otherwise the
    longest common stretch, if it covers at least half of the quote.
    """
    passage, quote = passage or "", (quote or "").strip()
    start, size = -1, 0
    if quote:
        folded_passage, folded_quote = passage.casefold(), quote.casefold()
        start, size = folded_passage.find(folded_quote), len(quote)
        # casefold can change a text's length (ß -> ss): then its positions are not the passage's
        if start < 0 or len(folded_passage) != len(passage) or len(folded_quote) != len(quote):
            match = difflib.SequenceMatcher(None, passage, quote, autojunk=False).find_longest_match(
                0, len(passage), 0, len(quote))
            start, size = (match.a, match.size) if match.size >= len(quote) / 2 else (-1, 0)
    if start < 0:
        return escape(passage)
    end = start + size
    while start < end and passage[start].isspace():
        start += 1
    while end > start and passage[end - 1].isspace():
        end -= 1
    return escape(passage[:start]) + Markup("<mark>") + escape(passage[start:end]) + Markup("</mark>") + escape(passage[end:])


def _dig(record: dict, *keys: str) -> Any:
    """record[k1][k2]... or None where any level is missing or not a dict (provenance is optional)."""
    for key in keys:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def create_app(store: ReviewStore, *, reviewer: str | None = None, token: str | None = None) -> Flask:
    """The app. `reviewer` names a browser that has not chosen a name; `token`, when given, must be
    presented once per browser session (?token=... in the printed URL, or on the login page)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=store.secret_key(),
        SESSION_COOKIE_NAME="proteinlm_review",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # Strict would drop the session on links from other sites
        WTF_CSRF_TIME_LIMIT=None,  # a review session lasts hours; the token is bound to the session
        MAX_CONTENT_LENGTH=1 << 20,
    )
    app.extensions["review_store"] = store
    app.config["REVIEW_DEFAULT_REVIEWER"] = reviewer
    app.config["REVIEW_TOKEN"] = token
    CSRFProtect(app)
    app.jinja_env.filters["highlight"] = highlight
    app.jinja_env.globals["dig"] = _dig
    app.register_blueprint(review)

    @app.before_request
    def check_access():
        g.store = store
        if token is None or request.endpoint in _OPEN_ENDPOINTS:
            return None
        given = request.args.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()):
            session["access"] = True
            # drop the token from the address bar (and from any later Referer)
            return redirect(request.path)
        if not session.get("access"):
            return redirect(url_for("review.login", next=request.path))
        return None

    @app.after_request
    def security_headers(response):
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"  # Back never shows a page from before a decision
        return response

    @app.errorhandler(400)
    def bad_request(error):
        return render_template("error.html", message=getattr(error, "description", str(error))), 400

    @app.errorhandler(404)
    def not_found(error):
        return render_template("error.html", message="No such page or question."), 404

    return app
