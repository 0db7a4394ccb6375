"""SIFTS mapping CSVs (PDBe: `pdb_pubmed.csv`, `pdb_chain_uniprot.csv`, `pdb_chain_enzyme.csv`,
plain or gzipped) -> tuples, and the PubMed -> UniProt join through shared PDB entries.

Format: one `# date | PDB release | UniProt release` comment line, then a header naming the
columns, then one row per line. Columns are found by header name, not position, so that a release
adding a column does not shift them. Values are normalised: PDB ids lower-case (as SIFTS writes
them and PDB ids are case-insensitive), chains kept as written (chain ids are case-sensitive),
accessions upper-case.

A row with the wrong number of columns, an empty id, a non-numeric ordinal or PubMed id goes to
`on_error` as `RecordError("path:line: reason")` (raised when `on_error` is None) and is skipped.
A missing or unreadable file (truncated gzip) or a header without the expected columns is a
`SourceError`: nothing in such a file can be trusted.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable, Iterator

from proteinlm.errors import RecordError, SourceError

__all__ = [
    "parse_pdb_pubmed", "parse_pdb_chain_uniprot", "parse_pdb_chain_enzyme", "pubmed_to_uniprot",
]

OnError = Callable[[RecordError], None]
_READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


def parse_pdb_pubmed(
    path: str | Path, on_error: OnError | None = None
) -> Iterator[tuple[str, int, str]]:
    """`pdb_pubmed.csv` -> (pdb, ordinal, pmid); ordinal 0 is the entry's primary citation."""
    for where, (pdb, ordinal, pmid) in _rows(path, ("PDB", "ORDINAL", "PUBMED_ID"), on_error):
        if not ordinal.isdigit():
            _report(on_error, where, f"ORDINAL {ordinal!r} is not a non-negative integer")
        elif not pmid.isdigit():
            _report(on_error, where, f"PUBMED_ID {pmid!r} is not numeric")
        else:
            yield pdb.lower(), int(ordinal), pmid


def parse_pdb_chain_uniprot(
    path: str | Path, on_error: OnError | None = None
) -> Iterator[tuple[str, str, str]]:
    """`pdb_chain_uniprot.csv` -> (pdb, chain, accession), one per mapped segment (a chain mapped
    in several segments repeats; residue ranges are not needed by the builders and are not read)."""
    for _, (pdb, chain, acc) in _rows(path, ("PDB", "CHAIN", "SP_PRIMARY"), on_error):
        yield pdb.lower(), chain, acc.upper()


def parse_pdb_chain_enzyme(
    path: str | Path, on_error: OnError | None = None
) -> Iterator[tuple[str, str, str, str]]:
    """`pdb_chain_enzyme.csv` -> (pdb, chain, accession, EC number as written, "3.2.1.-" too)."""
    columns = ("PDB", "CHAIN", "ACCESSION", "EC_NUMBER")
    for _, (pdb, chain, acc, ec) in _rows(path, columns, on_error):
        yield pdb.lower(), chain, acc.upper(), ec


def pubmed_to_uniprot(
    pdb_pubmed: str | Path | Iterable[tuple[str, int, str]],
    pdb_chain_uniprot: str | Path | Iterable[tuple[str, str, str]],
    *,
    primary_only: bool = False,
    on_error: OnError | None = None,
) -> dict[str, set[str]]:
    """PMID -> UniProt accessions of the PDB entries that cite it.

    Each argument is a path (parsed here, bad rows to `on_error`) or the parser's tuples. With
    `primary_only`, only an entry's primary citation (ordinal 0) links it: secondary citations are
    often methods or related structures, a looser tie to the proteins. PMIDs whose entries map to
    no UniProt accession are left out. The chain map is held in memory (~10^6 rows in current
    releases, a few hundred MB at most); the citations are streamed.
    """
    if isinstance(pdb_chain_uniprot, (str, Path)):
        pdb_chain_uniprot = parse_pdb_chain_uniprot(pdb_chain_uniprot, on_error)
    if isinstance(pdb_pubmed, (str, Path)):
        pdb_pubmed = parse_pdb_pubmed(pdb_pubmed, on_error)
    by_pdb: dict[str, set[str]] = defaultdict(set)
    for pdb, _chain, acc in pdb_chain_uniprot:
        by_pdb[pdb.lower()].add(acc)
    out: dict[str, set[str]] = defaultdict(set)
    for pdb, ordinal, pmid in pdb_pubmed:
        accessions = by_pdb.get(pdb.lower())
        if accessions and (ordinal == 0 or not primary_only):
            out[pmid] |= accessions
    return dict(out)


def _report(on_error: OnError | None, where: str, reason: str) -> None:
    err = RecordError(f"{where}: {reason}")
    if on_error is None:
        raise err
    on_error(err)


def _open(path: Path) -> io.TextIOBase:
    """Text stream, gunzipped when the file starts with the gzip magic (names can lie)."""
    try:
        with open(path, "rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        raw = gzip.open(path, "rb") if gzipped else open(path, "rb")
    except OSError as exc:
        raise SourceError(f"{path}: cannot open SIFTS file: {exc}") from exc
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines; only the reading is guarded, so callers' errors are never relabelled."""
    with _open(path) as fh:
        n = 0
        while True:
            try:
                line = fh.readline()
            except _READ_ERRORS as exc:
                raise SourceError(f"{path}: unreadable after line {n} (truncated?): {exc}") from exc
            if not line:
                return
            n += 1
            yield n, line.rstrip("\r\n")


def _rows(
    path: str | Path, columns: tuple[str, ...], on_error: OnError | None
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """("path:line", the `columns` of one row, stripped) for each well-formed data row."""
    path = Path(path)
    index: list[int] | None = None
    width = 0
    for n, line in _lines(path):
        if not line.strip() or (index is None and line.startswith("#")):
            continue  # the release comment (and blank lines) carry no data
        try:
            cells = [c.strip() for c in next(csv.reader([line]))]
        except csv.Error as exc:
            _report(on_error, f"{path}:{n}", f"unparsable CSV ({exc})")
            continue
        if index is None:  # the header
            header = [c.upper() for c in cells]
            missing = [c for c in columns if c not in header]
            if missing:
                raise SourceError(f"{path}:{n}: header {cells} lacks column(s) {missing}")
            index, width = [header.index(c) for c in columns], len(header)
            continue
        where = f"{path}:{n}"
        if len(cells) != width:
            _report(on_error, where, f"{len(cells)} columns, the header has {width}")
            continue
        values = tuple(cells[i] for i in index)
        empty = [c for c, v in zip(columns, values) if not v]
        if empty:
            _report(on_error, where, f"empty {', '.join(empty)}")
            continue
        yield where, values
    if index is None:
        raise SourceError(f"{path}: no header line (expected {','.join(columns)})")
