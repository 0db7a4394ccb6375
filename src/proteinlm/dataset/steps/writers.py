"""Deterministic, atomic output files: JSONL.gz and Parquet shards, JSON exports, file hashes.

Same rows in → byte-identical files out: gzip headers carry no timestamp or file name, JSON keys
keep their insertion order, Parquet is written with fixed settings. Every file is written to a
temporary name and renamed into place, so a killed build never leaves a half-written shard that
a resumed build would take for finished.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import orjson
import xxhash
from isal import igzip

from proteinlm.errors import ProteinLMError


def _atomic_path(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def is_temporary(path: Path) -> bool:
    """Whether `path` is a file `_atomic_path` named, which a killed run may have left behind."""
    return path.name.startswith(".") and ".tmp-" in path.name


def remove_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed run left under `folder` (a resumed build starts clean)."""
    for p in folder.rglob(".*.tmp-*"):
        if p.is_file() and is_temporary(p):
            p.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = _atomic_path(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)


_dumps = orjson.dumps
_INT64 = range(-(2**63), 2**64)  # the integers orjson writes (it refuses larger ones)


def json_value(v) -> bytes:
    """`json.dumps(v, ensure_ascii=False)` as UTF-8. orjson writes str, int, bool and None as json
    does (its string escapes are json's with ensure_ascii=False: tests/test_writers.py checks
    every character); floats, lists and dicts go through json, for orjson writes floats in its
    own shortest form and no space after "," and ":"."""
    t = type(v)
    if t is str or v is None or t is bool or (t is int and v in _INT64):
        return _dumps(v)
    return json.dumps(v, ensure_ascii=False).encode("utf-8")


_PLAIN = frozenset((str, bool, type(None)))  # the value types orjson writes as json does, whatever the value


def json_lines(rows: Iterable[dict], keep: list | None = None) -> bytes:
    """`json.dumps(row, ensure_ascii=False) + "\\n"` for every row, joined, as UTF-8: rows of the
    same keys share one template (json's ", " and ": " around the values orjson encodes). `keep`,
    when given, receives each row's encoded values (key -> JSON bytes) for writing the same rows
    in another layout."""
    templates: dict[tuple, bytes] = {}
    out: list[bytes] = []
    dumps, plain = _dumps, _PLAIN.issuperset
    for row in rows:
        keys = tuple(row)
        template = templates.get(keys)
        if template is None:
            if not all(type(k) is str for k in keys):
                raise TypeError(f"JSON row keys must be str: {keys!r}")
            template = templates[keys] = (
                b"{" + b", ".join(dumps(k).replace(b"%", b"%%") + b": %b" for k in keys) + b"}\n"
            )
        values = row.values()
        encoded = tuple(map(dumps, values)) if plain(map(type, values)) else tuple(map(json_value, values))
        out.append(template % encoded)
        if keep is not None:
            keep.append(dict(zip(keys, encoded)))
    return b"".join(out)


# ISA-L (python-isal, as cutadapt and xopen use) at level 2: on MEDLINE text ~5x faster than zlib's
# level 3 for a file ~1% larger; ISA-L's level 3 is 2.5% smaller again but 2.6x slower (about 5% of
# a whole `build uniprot`). mtime=0 and no file name: the same bytes on every run.
GZIP_LEVEL = 2


def gzip_bytes(data: bytes) -> bytes:
    return igzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    write_bytes_atomic(path, gzip_bytes(json_lines(rows)))


class GzipShard:
    """A JSONL.gz shard written piece by piece (a chunk's rows a batch at a time, so their JSON
    text is never all in memory), to a temporary name renamed into place by `close`. The bytes
    depend on the pieces' boundaries, which the callers fix (a batch size), not on timing."""

    def __init__(self, path: Path):
        self.path, self._tmp = path, _atomic_path(path)
        self._gz = igzip.IGzipFile(
            filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=self._tmp.open("wb"), mtime=0
        )

    def write(self, data: bytes) -> None:
        """Append UTF-8 JSON lines (as `encoded_rows` gives them)."""
        self._gz.write(data)

    def close(self) -> None:
        fileobj = self._gz.fileobj
        self._gz.close()
        fileobj.close()
        os.replace(self._tmp, self.path)


_STR, _TEXT = frozenset((str,)), frozenset((str, type(None)))


def _string_array(values: list):
    """A pyarrow string array of `values` if all are str, built from one joined UTF-8 buffer and
    its offsets: ~3x faster than `pa.array` on long texts, and it leaves pandas unimported (pyarrow
    imports it, ~0.3 s, the first time it converts a Python list). None otherwise."""
    import numpy as np
    import pyarrow as pa

    if not _STR.issuperset(map(type, values)):  # map and the set test run in C
        return None
    text = "".join(values)
    data = text.encode("utf-8")
    # ASCII text (most of Swiss-Prot): a character is a byte, so str lengths are the offsets
    lengths = map(len, values) if len(data) == len(text) else (len(v.encode("utf-8")) for v in values)
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(lengths, dtype=np.int64, count=len(values)), out=offsets[1:])
    if offsets[-1] >= 2**31:  # a string array holds 32-bit offsets
        return None
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))


def _columns(rows: list[dict]) -> dict[str, list]:
    """Every key of the rows in first-seen order (from_pylist keeps the first row's keys only) ->
    its values, None where a row lacks the key."""
    keys = list(rows[0]) if rows else []
    # the usual case, every row with the first row's keys (as many, and each of them): transposed
    # by itemgetter and zip in C instead of a dict lookup per cell in Python
    if len(keys) > 1 and set(map(len, rows)) == {len(keys)}:
        try:
            return {k: list(col) for k, col in zip(keys, zip(*map(itemgetter(*keys), rows)))}
        except KeyError:  # a row with other keys
            pass
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return {k: [row.get(k) for row in rows] for k in keys}


def write_parquet(path: Path, rows: list[dict], repeated: Sequence[str] | None = None) -> None:
    """Rows as one Parquet file. `repeated`: the text columns whose values repeat, which get
    dictionary pages; None: the columns where at least half the values are repeats (a set of each
    column: it hashes every text, ~15 ms per 5,000 documents)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Column lists, not `from_pylist`: pyarrow converts one list per column instead of row dicts,
    # ~5x faster.
    columns = _columns(rows)
    arrays, text = [], []
    for v in columns.values():
        a = _string_array(v)  # None unless every value is a str
        arrays.append(a if a is not None else pa.array(v))
        text.append(a is not None or _TEXT.issuperset(map(type, v)))
    table = pa.Table.from_arrays(arrays, names=list(columns))
    # Dictionary pages for text columns whose values repeat (an entry's sequence in each of its
    # SFT rows, the task, the instruction paraphrases): about a third smaller SFT shards. Columns
    # of unique texts skip the dictionary, which would only be built and dropped.
    dictionary = [
        k for (k, v), is_text in zip(columns.items(), text)
        if not is_text or (2 * len(set(v)) <= len(v) if repeated is None else k in repeated)
    ]
    tmp = _atomic_path(path)
    pq.write_table(table, tmp, compression="zstd", write_statistics=False, use_dictionary=dictionary)
    os.replace(tmp, path)


def read_jsonl_gz(path: Path) -> Iterator[dict]:
    with igzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def iter_texts(dirs: Iterable[str | Path]) -> Iterator[str]:
    """Texts of the train shards under `DIR/pretrain/*/` of each build dir, in sorted order."""
    for d in dirs:
        shards = sorted(Path(d).glob("pretrain/*/train-*.jsonl.gz"))
        if not shards:
            raise ProteinLMError(f"{d}: no pretrain/*/train-*.jsonl.gz shards to pack")
        for shard in shards:
            for row in read_jsonl_gz(shard):
                yield row["text"]


def file_info(path: Path, root: Path | None = None, digest: str = "sha256") -> dict:
    """Path (relative to root when given), size and hash of a file: "sha256" (inputs: what
    `sha256sum` prints) or "xxh3_128" (outputs: a checksum ~9x faster than SHA-256, from the
    xxhash library that `datasets` also uses; a build writes ~1 byte of output per byte of input)."""
    h = xxhash.xxh3_128() if digest == "xxh3_128" else hashlib.new(digest)
    block = bytearray(1 << 20)  # one buffer, read into: no new bytes object per block
    view = memoryview(block)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(block):
            h.update(view[:n])
    shown = str(path.relative_to(root)) if root else str(path)
    return {"path": shown, "bytes": path.stat().st_size, digest: h.hexdigest()}


def output_info(path: Path, root: Path) -> dict:
    """`file_info` of a file a build wrote: its checksum is "xxh3_128"."""
    return file_info(path, root, "xxh3_128")


def stable_fraction(key: str, seed: int = 0) -> float:
    """A number in [0, 1) fixed by (seed, key): the same on every machine and process."""
    h = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


@lru_cache(maxsize=1 << 16)  # a protein's document and its tasks ask in turn
def split_of(accession: str, val_fraction: float, seed: int = 0) -> str:
    """Train/validation by accession hash, so a protein never lands in both."""
    return "validation" if stable_fraction(accession, seed) < val_fraction else "train"
