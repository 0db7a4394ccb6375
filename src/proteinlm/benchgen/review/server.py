"""Start the review app on waitress (a production WSGI server, threaded) and print where it listens."""

from __future__ import annotations

import ipaddress
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from proteinlm.benchgen.review.questions import default_db, read_items
from proteinlm.benchgen.review.store import ReviewStore
from proteinlm.errors import ProteinLMError

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ReviewSetup:
    store: ReviewStore
    added: int
    differ: int
    token: str | None


def open_review(source: str | Path, *, db: str | Path | None = None, host: str = "127.0.0.1",
                token: str | None = None, reviews_needed: int | None = None) -> ReviewSetup:
    """Read the questions into the review database (adding those it lacks) and settle the token:
    off the loopback interface one is required, and made up when not given."""
    if reviews_needed is not None and reviews_needed not in (1, 2):
        raise ProteinLMError(f"--reviews-needed must be 1 or 2, got {reviews_needed}")
    if token is not None and len(token) < 16:
        raise ProteinLMError("an access token needs at least 16 characters")
    store = ReviewStore(db or default_db(source))
    added, differ = store.import_items(read_items(source))
    if reviews_needed is not None:
        store.set_meta("reviews_needed", str(reviews_needed))
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    return ReviewSetup(store=store, added=added, differ=differ, token=token)


def serve(setup: ReviewSetup, *, host: str, port: int, reviewer: str | None, threads: int = 8) -> None:
    """Serve until interrupted; prints the URL (with the token, when there is one) on stdout."""
    from waitress import create_server

    from proteinlm.benchgen.review.app import create_app

    app = create_app(setup.store, reviewer=reviewer, token=setup.token)
    try:
        server = create_server(app, host=host, port=port, threads=threads)
    except OSError as e:
        raise ProteinLMError(f"cannot listen on {host}:{port}: {e}") from None
    shown_host = f"[{server.effective_host}]" if ":" in str(server.effective_host) else server.effective_host
    url = f"http://{shown_host}:{server.effective_port}/" + (f"?token={setup.token}" if setup.token else "")
    print(f"Review at {url}", flush=True)
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
