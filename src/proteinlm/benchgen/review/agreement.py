"""Where the review stands: each question's status, the export policies, and reviewer agreement.

All of it is computed from the reviewers' latest accept/reject of each question's latest version
(`ReviewStore.finals`).
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

POLICIES = ("any-accept", "all-accept", "majority")
STATUSES = ("pending", "partial", "accepted", "rejected", "disputed")


def status(finals: dict[str, dict], needed: int) -> str:
    """pending (no review), partial (fewer reviews than needed), accepted, rejected or disputed."""
    actions = [row["action"] for row in finals.values()]
    if not actions:
        return "pending"
    if len(actions) < needed:
        return "partial"
    if all(a == "accept" for a in actions):
        return "accepted"
    if all(a == "reject" for a in actions):
        return "rejected"
    return "disputed"


def kept(finals: dict[str, dict], needed: int, policy: str) -> bool:
    """Whether a question with these reviews goes into the export under `policy`.

    A question needs `needed` reviews before any policy keeps it; then any-accept keeps it when one
    reviewer accepted, all-accept when every reviewer did, majority when accepts outnumber rejects.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    actions = [row["action"] for row in finals.values()]
    if len(actions) < max(needed, 1):
        return False
    accepts = actions.count("accept")
    if policy == "any-accept":
        return accepts > 0
    if policy == "all-accept":
        return accepts == len(actions)
    return accepts > len(actions) - accepts


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels; None where it is undefined (no pairs, or both raters
    gave one same label throughout so that chance agreement is 1). Written out rather than taken
    from scikit-learn: it is four lines, and the review app should not need scikit-learn."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def agreement(finals: dict[str, dict[str, dict]]) -> list[dict]:
    """Per pair of reviewers, on the questions both reviewed: counts, observed agreement, kappa."""
    reviewers = sorted({r for by_reviewer in finals.values() for r in by_reviewer})
    table = []
    for a, b in combinations(reviewers, 2):
        pairs = [(rows[a]["action"], rows[b]["action"]) for rows in finals.values() if a in rows and b in rows]
        if not pairs:
            continue
        counts = Counter(pairs)
        table.append({
            "reviewers": (a, b), "questions": len(pairs),
            "both_accept": counts[("accept", "accept")], "both_reject": counts[("reject", "reject")],
            "only_first_accepts": counts[("accept", "reject")], "only_second_accepts": counts[("reject", "accept")],
            "observed": sum(x == y for x, y in pairs) / len(pairs), "kappa": cohen_kappa(pairs),
        })
    return table


def summary(qids: list[str], finals: dict[str, dict[str, dict]], needed: int) -> dict:
    """Counts for the progress bar, the stats page and the export's summary."""
    statuses = Counter(status(finals.get(q, {}), needed) for q in qids)
    reasons: Counter = Counter()
    per_reviewer: dict[str, Counter] = {}
    for q in qids:
        for reviewer, row in finals.get(q, {}).items():
            per_reviewer.setdefault(reviewer, Counter())[row["action"]] += 1
            if row["action"] == "reject":
                reasons[row["reason"]] += 1
    return {
        "total": len(qids),
        "reviewed": statuses["accepted"] + statuses["rejected"] + statuses["disputed"],
        "statuses": {s: statuses[s] for s in STATUSES},
        "reject_reasons": dict(reasons.most_common()),
        "per_reviewer": {r: {"accept": c["accept"], "reject": c["reject"]} for r, c in sorted(per_reviewer.items())},
        "agreement": agreement({q: finals[q] for q in qids if q in finals}),
        "reviews_needed": needed,
    }
