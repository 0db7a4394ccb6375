"""Opening the tables the literature builds read (SIFTS and PMC-ids CSVs, bilingual JSONL/TSV):
UTF-8 text, gzip-compressed or not (the gzip magic bytes decide), with `newline=""` as the csv
module wants."""

from __future__ import annotations

import gzip
import io


def open_table(path: str) -> io.TextIOBase:
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="") if gz else open(
        path, encoding="utf-8", newline=""
    )
