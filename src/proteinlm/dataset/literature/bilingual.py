"""Bilingual pairs: Chinese/English abstract pairs from JSONL or TSV files → documents.

Bilingual layout: "joined" (default) writes one document per pair, the Chinese abstract, a blank
line, then the English abstract ("zh\\n\\nen"), id `bilingual-<pair id>`; "separate" writes two
documents, `bilingual-<pair id>-zh` and `-en`. Pair ids come from the record's `id` (JSONL) or
first column (TSV), else `<file name>:<line>`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable, Iterator

from proteinlm.dataset.literature.table_files import open_table
from proteinlm.errors import RecordError, SourceError
from proteinlm.records import Document

_PAIR_KEYS = (("zh", "en"), ("chinese", "english"), ("zh_abstract", "en_abstract"))


def _pairs(path: str, on_error: Callable) -> Iterator[tuple[str, str, str, str]]:
    """(pair id, zh, en, location) from a JSONL or a TSV (`id\\tzh\\ten` with a header)."""
    name = Path(path).name
    try:
        with open_table(path) as fh:
            first = fh.readline()
            if first.lstrip().startswith("{"):
                lines = [(1, first), *((n, l) for n, l in enumerate(fh, start=2))]
                for n, line in lines:
                    if not line.strip():
                        continue
                    where = f"{path}:{n}"
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        on_error(RecordError(f"{where}: not JSON: {exc}"))
                        continue
                    zh = en = None
                    for kz, ke in _PAIR_KEYS:
                        if isinstance(rec, dict) and kz in rec and ke in rec:
                            zh, en = rec[kz], rec[ke]
                            break
                    if not isinstance(zh, str) or not isinstance(en, str) or not zh.strip() or not en.strip():
                        on_error(RecordError(f"{where}: no Chinese/English pair (keys zh/en, chinese/english or zh_abstract/en_abstract)"))
                        continue
                    yield str(rec.get("id") or f"{name}:{n}"), zh, en, where
            else:
                reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
                for n, row in enumerate(reader, start=2):
                    where = f"{path}:{n}"
                    if len(row) != 3 or not row[1].strip() or not row[2].strip():
                        if row:
                            on_error(RecordError(f"{where}: expected 3 tab-separated columns id, zh, en"))
                        continue
                    yield row[0].strip() or f"{name}:{n}", row[1], row[2], where
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read (truncated or corrupt?): {exc}") from exc


def bilingual_documents(path: str, layout: str, on_error: Callable, counts: dict) -> Iterator[Document]:
    for pid, zh, en, where in _pairs(path, on_error):
        counts["pairs"] = counts.get("pairs", 0) + 1
        base = {"pmid": None, "pmcid": None, "pair_id": pid}
        if layout == "joined":
            yield Document(f"bilingual-{pid}", f"{zh.strip()}\n\n{en.strip()}", "bilingual", dict(base, lang="zh+en"))
        else:
            yield Document(f"bilingual-{pid}-zh", zh.strip(), "bilingual", dict(base, lang="zh"))
            yield Document(f"bilingual-{pid}-en", en.strip(), "bilingual", dict(base, lang="en"))
