"""PubMed's "last event wins" rule, as one reduce step of the pubmed and seq-in-text builds.

NLM publishes PubMed as a yearly baseline (each citation once) and daily update files. An update
file holds whole citations, not diffs: a citation record for a PMID already seen is a revised
version that replaces the earlier one, and a `DeleteCitation` withdraws a PMID. So the inputs,
read in the order given (baseline first, then updates), are reduced to each PMID's *last* event:

- its last citation record, as (input file index, record index in that file): the document is
  written there, at the later position, and every earlier version is dropped;
- None when a `DeleteCitation` comes after its last version: the citation is not written at all.
  A version after the deletion adds it back.

The events are what `pipeline._pubmed_events` reads of each file: (pmid, deleted) per record, in
file order. The reduce holds one dict entry per PMID (the citation text is read again later, by
the per-file tasks that keep only the winners), and both engines run it: the local build inside
`pipeline._context`, datatrove as the one-task "versions" stage (`stages.VersionsStage`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

Event = tuple[str, bool]  # (pmid, deleted) of one record
Position = tuple[int, int]  # (input file index, record index in the file)


@dataclass
class VersionStats:
    """What the reduce saw. Each citation record ends as exactly one of: the winner of its PMID,
    superseded by a later version, or deleted by a later DeleteCitation, so
    `citations == kept + superseded + deleted` (and `deletions == deleted + deleted_unknown +
    deleted_again`). (The per-file counts `superseded`/`deleted_later`
    of the docs pass classify a losing record by its PMID's final state instead.)"""

    events: list[int] = field(default_factory=list)  # records read, per input file in input order
    citations: int = 0  # citation records (versions) read
    deletions: int = 0  # DeleteCitation records read
    superseded: int = 0  # citation records replaced by a later version of their PMID
    deleted: int = 0  # citation records removed by a later DeleteCitation
    deleted_unknown: int = 0  # DeleteCitations of a PMID not read before (nothing to remove)
    deleted_again: int = 0  # DeleteCitations of a PMID deleted already
    readded: int = 0  # citation records of a PMID deleted earlier in the inputs
    pmids: int = 0  # distinct PMIDs read
    kept: int = 0  # PMIDs whose last event is a citation: the documents the build can write

    def as_dict(self) -> dict:
        return asdict(self)


def last_events(files: Iterable[list[Event]]) -> tuple[dict[str, Position | None], VersionStats]:
    """Reduce the per-file event lists (in input order) to each PMID's last event: its winning
    (file index, record index), or None where a DeleteCitation follows its last version."""
    last: dict[str, Position | None] = {}
    st = VersionStats()
    for i, events in enumerate(files):
        st.events.append(len(events))
        for k, (pmid, deleted) in enumerate(events):
            before = last.get(pmid, False)  # False: not read yet; None: deleted; a position: live
            if deleted:
                st.deletions += 1
                if before:
                    st.deleted += 1
                elif before is None:
                    st.deleted_again += 1
                else:
                    st.deleted_unknown += 1
                last[pmid] = None
            else:
                st.citations += 1
                if before:
                    st.superseded += 1
                elif before is None:
                    st.readded += 1
                last[pmid] = (i, k)
    st.pmids = len(last)
    st.kept = sum(v is not None for v in last.values())
    return last, st
