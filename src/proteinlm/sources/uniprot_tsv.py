"""UniProt REST TSV downloads (`format=tsv`) -> `ProteinEntry`, equal to what the flat file gives.

Columns are found by their header label (case-insensitive): "Entry" and "Sequence" are required,
the rest optional. Comment cells repeat the flat-file text with its topic prefix
("FUNCTION: Involved in ... {ECO:0000269|PubMed:123}."), several comments of a topic in one cell,
so they go through the same cleaning as the flat file. Secondary accessions are not a TSV column:
`accessions` holds the primary one only. Cells are never quoted, so a line is one record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from proteinlm.errors import SourceError
from proteinlm.records import ProteinEntry
from proteinlm.sources.text import (
    SKIPPED_TOPICS,
    TOPICS,
    BadRecord,
    OnError,
    clean_comment,
    open_text,
    parse_protein_names,
    read_lines,
    report,
)

# Header label (lower case) -> flat-file topic. Any other column whose cells start with a known
# "TOPIC: " prefix is read as that topic too.
TOPIC_COLUMNS = {
    "function [cc]": "FUNCTION",
    "catalytic activity": "CATALYTIC ACTIVITY",
    "cofactor": "COFACTOR",
    "activity regulation": "ACTIVITY REGULATION",
    "pathway": "PATHWAY",
    "subunit structure": "SUBUNIT",
    "subunit structure [cc]": "SUBUNIT",
    "subcellular location [cc]": "SUBCELLULAR LOCATION",
    "tissue specificity": "TISSUE SPECIFICITY",
    "developmental stage": "DEVELOPMENTAL STAGE",
    "induction": "INDUCTION",
    "domain [cc]": "DOMAIN",
    "post-translational modification": "PTM",
    "polymorphism": "POLYMORPHISM",
    "involvement in disease": "DISEASE",
    "disruption phenotype": "DISRUPTION PHENOTYPE",
    "allergenic properties": "ALLERGEN",
    "toxic dose": "TOXIC DOSE",
    "biotechnological use": "BIOTECHNOLOGY",
    "pharmaceutical use": "PHARMACEUTICAL",
    "miscellaneous [cc]": "MISCELLANEOUS",
    "sequence similarities": "SIMILARITY",
    "caution": "CAUTION",
}


def parse_tsv(path: str | Path, on_error: OnError | None = None) -> Iterator[ProteinEntry]:
    """Stream the rows of a UniProt REST TSV download (gzip-aware) as entries."""
    name = str(path)
    with open_text(path) as fh:
        lines = read_lines(fh, path)
        header_line = next(lines, "")
        header = [h.strip().lower() for h in header_line.rstrip("\r\n").split("\t")]
        col = {h: i for i, h in enumerate(header)}
        if "entry" not in col or "sequence" not in col:
            raise SourceError(f"{name}: not a UniProt TSV file (needs 'Entry' and 'Sequence')")
        for lineno, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            cells = line.rstrip("\r\n").split("\t")
            where = f"{name}:{lineno}"
            acc = cells[col["entry"]].strip() if len(cells) > col["entry"] else None
            try:
                if len(cells) != len(header):
                    raise BadRecord(f"{len(cells)} columns, the header has {len(header)}")
                entry = _row(dict(zip(header, cells)), where)
            except BadRecord as exc:
                report(on_error, where, str(exc), acc)
            except ValueError as exc:
                report(on_error, where, f"malformed cell ({exc})", acc)
            else:
                yield entry


def _split(cell: str | None, sep: str = ";") -> list[str]:
    return [v.strip() for v in (cell or "").split(sep) if v.strip()]


def _row(row: dict[str, str], where: str) -> ProteinEntry:
    acc = row["entry"].strip()
    seq = "".join(row["sequence"].split())
    if not acc:
        raise BadRecord("empty Entry cell")
    if not seq:
        raise BadRecord("empty Sequence cell")
    length = row.get("length", "").strip()
    if length and int(length) != len(seq):
        raise BadRecord(f"sequence has {len(seq)} residues, Length says {length}")
    rec, alts, ecs = parse_protein_names(row.get("protein names", ""))
    if "ec number" in row:
        ecs = _split(row["ec number"])
    taxon = (row.get("organism (id)") or row.get("organism id") or "").strip()
    reviewed = row.get("reviewed", "reviewed").strip().lower() == "reviewed"
    return ProteinEntry(
        accessions=(acc,),
        entry_name=row.get("entry name", "").strip(),
        sequence=seq,
        reviewed=reviewed,
        recommended_name=rec,
        alternative_names=tuple(alts),
        gene_names=tuple(row.get("gene names", "").replace(";", " ").split()),
        organism=row.get("organism", "").strip() or None,
        taxon_id=int(taxon) if taxon else None,
        comments=_comments(row),
        ec_numbers=tuple(dict.fromkeys(ecs)),
        keywords=tuple(sorted(_split(row.get("keywords")))),
        go_terms=tuple(sorted(_split(row.get("gene ontology ids")))),
        pubmed_ids=tuple(_split(row.get("pubmed id"))),
        pdb_ids=tuple(sorted(_split(row.get("pdb")))),
        source=where,
    )


def _comments(row: dict[str, str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for label, cell in row.items():
        cell = cell.strip()
        if not cell:
            continue
        topic = TOPIC_COLUMNS.get(label)
        if topic is None:
            head = cell.partition(": ")[0]
            if head not in TOPICS or label in ("protein names", "entry name"):
                continue
            topic = head
        if topic in SKIPPED_TOPICS:
            continue
        # "FUNCTION: first. {ECO:1}.; FUNCTION: second." -> one text per comment
        for piece in cell.split(f"{topic}: "):
            text = clean_comment(topic, piece.strip().rstrip(";").strip())
            if text:
                out.setdefault(topic, []).append(text)
    return {k: tuple(v) for k, v in out.items()}
