"""The SFT exports of `build uniprot`: `sft/alpaca/{split}.json` (one JSON array of
`instruction/input/output`, what LLaMA-Factory and most SFT scripts read), `sft/chat/{split}.jsonl`
(`messages`) and `sft/dataset_info.json`.

They are written while the build runs, chunk by chunk in input order, to `.partial` files that are
renamed into place at the end, so no second pass reads the shards back. A chunk's state records the
files' sizes after its rows: a resumed build cuts the files back to the last recorded chunk and
goes on from there. When that is not possible (state from an older version, files removed) the
exports are rebuilt from the shards once the build is done.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Iterator, Sequence

import orjson

from proteinlm.dataset.steps.writers import json_lines, read_jsonl_gz

_OPEN, _CLOSE = "[", "\n]\n"  # the alpaca array: "[", rows after "\n" / ",\n", then "\n]\n"


def export_parts(rows: Sequence[dict], encoded: Sequence[dict]) -> tuple[bytes, bytes]:
    """(alpaca rows joined by ",\\n", chat lines) of SFT rows as UTF-8, each row exactly as
    json.dumps (ensure_ascii=False) writes it. `encoded`: the rows' values already JSON-encoded by
    `json_lines(rows, keep=...)` for the shards, so that no text is encoded twice. Made in the
    worker that built the rows; the main process only appends the bytes."""
    alpaca, chat = [], []
    for r, e in zip(rows, encoded):
        enc_ins, enc_input, enc_out = e["instruction"], e["input"], e["output"]
        alpaca.append(b'{"instruction": %b, "input": %b, "output": %b}' % (enc_ins, enc_input, enc_out))
        instruction, inp = r["instruction"], r["input"]
        user = f"{instruction}\n{inp}"
        if user.strip() == user:  # dumps(a + b) is dumps(a) and dumps(b) joined at the quotes
            enc_user = enc_ins[:-1] + b"\\n" + enc_input[1:]
        else:
            enc_user = orjson.dumps(user.strip())
        chat.append(
            b'{"id": %b, "messages": [{"role": "user", "content": %b}, '
            b'{"role": "assistant", "content": %b}]}\n' % (e["id"], enc_user, enc_out)
        )
    return b",\n".join(alpaca), b"".join(chat)


def encoded_rows(rows: list[dict], exports: bool) -> tuple[bytes, bytes, bytes]:
    """(JSON lines, alpaca part, chat part) of rows as UTF-8: `json_lines(rows)` and, for SFT
    rows when `exports`, `export_parts` (else b"", b"")."""
    if not exports:
        return json_lines(rows), b"", b""
    encoded: list[dict] = []
    lines = json_lines(rows, keep=encoded)
    return (lines, *export_parts(rows, encoded))


class ExportParts:
    """One chunk's export parts for one split, written to `OUT/.state/parts/` batch by batch (by
    the worker that built the rows) and moved into the exports by the main process, in chunk
    order: neither process holds a chunk's export text, and no bytes cross the process pipe."""

    def __init__(self, out: Path, name: str):
        folder = out / ".state" / "parts"
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = (folder / f"{name}.alpaca", folder / f"{name}.chat")
        self._files = [p.open("wb") for p in self.paths]  # a killed run's leftovers are overwritten
        self._empty = True

    def add(self, alpaca: bytes, chat: bytes) -> None:
        if alpaca:
            self._files[0].write(alpaca if self._empty else b",\n" + alpaca)
            self._empty = False
        self._files[1].write(chat)

    def close(self) -> tuple[Path, Path]:
        for fh in self._files:
            fh.close()
        return self.paths


class DirectPart:
    """One chunk's export parts for one split written straight to the exports' `.partial` files:
    what `ExportParts` does where the chunk is built in the process that holds the exports (one
    process, or ECoT in the main one), without a part file to write, copy and delete. A killed
    build's partial chunk is cut off on resume like any unrecorded bytes."""

    def __init__(self, exports: "SftExports", split: str):
        self._paths = [exports._partial(p) for p in exports._paths(split)]
        self._files = None if exports.rebuild else [p.open("ab") for p in self._paths]
        self._first = exports.rows[split] == 0  # the first row of the array opens with "\n"
        self._empty = True

    def add(self, alpaca: bytes, chat: bytes) -> None:
        if self._files is None:  # the exports are rebuilt from the shards at the end
            return
        if alpaca:
            self._files[0].write((b"\n" if self._first else b",\n") if self._empty else b",\n")
            self._files[0].write(alpaca)
            self._empty = False
        self._files[1].write(chat)

    def close(self) -> tuple[object, object]:
        for fh in self._files or ():
            fh.close()
        return WRITTEN, WRITTEN


WRITTEN = object()  # a part that `DirectPart` has written already


def _write_part(fh, part: bytes | Path) -> None:
    """Append one part, given as bytes or as an `ExportParts` file (removed once copied)."""
    if isinstance(part, Path):
        with part.open("rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)
        part.unlink()
    else:
        fh.write(part)


def _drop_part(part: bytes | Path) -> None:
    if isinstance(part, Path):
        part.unlink(missing_ok=True)


class SftExports:
    """Appends export parts in chunk order to `OUT/sft/{alpaca,chat}/SPLIT.*.partial`."""

    def __init__(self, out: Path, splits: Sequence[str]):
        self.out, self.splits = out, tuple(splits)
        self.rebuild = False  # True: rows of finished chunks are missing, rebuild from the shards
        self.rows = {s: 0 for s in self.splits}

    def _paths(self, split: str) -> tuple[Path, Path]:
        return self.out / "sft" / "alpaca" / f"{split}.json", self.out / "sft" / "chat" / f"{split}.jsonl"

    @staticmethod
    def _partial(path: Path) -> Path:
        return path.with_name(path.name + ".partial")

    def start(self, sizes: dict[str, int] | None, rows: dict[str, int]) -> None:
        """Begin empty (`sizes` None), or cut the files back to `sizes` (recorded by the last done
        chunk, which wrote `rows` rows per split)."""
        for split in self.splits:
            for kind, path in zip(("alpaca", "chat"), self._paths(split)):
                part = self._partial(path)
                part.parent.mkdir(parents=True, exist_ok=True)
                if sizes is None:
                    part.write_text(_OPEN if kind == "alpaca" else "", encoding="utf-8")
                    continue
                want = sizes.get(f"{kind}/{split}")
                if not part.exists() and path.exists():
                    os.replace(path, part)  # a finished build run again: its final file is the prefix
                if want is None or not part.exists() or part.stat().st_size < want:
                    self.rebuild = True
                    return
                with part.open("r+b") as fh:
                    fh.truncate(want)
            self.rows[split] = rows.get(split, 0)

    def append(self, parts: dict[str, tuple[bytes | Path, bytes | Path, int]]) -> dict[str, int]:
        """Add one chunk's (alpaca, chat, rows) per split, each part as bytes or as a file (see
        `ExportParts`); returns the files' sizes after it."""
        sizes: dict[str, int] = {}
        if self.rebuild:  # no sizes: a later resume must rebuild as well
            for split in self.splits:
                alpaca, chat, n = parts.get(split, (b"", b"", 0))
                _drop_part(alpaca)
                _drop_part(chat)
                self.rows[split] += n
            return sizes
        for split in self.splits:
            alpaca, chat, n = parts.get(split, (b"", b"", 0))
            a_path, c_path = (self._partial(p) for p in self._paths(split))
            if alpaca is WRITTEN:
                pass
            elif n:
                with a_path.open("ab") as fh:
                    fh.write(b"\n" if self.rows[split] == 0 else b",\n")
                    _write_part(fh, alpaca)
                with c_path.open("ab") as fh:
                    _write_part(fh, chat)
            else:
                _drop_part(alpaca)
                _drop_part(chat)
            self.rows[split] += n
            sizes[f"alpaca/{split}"] = a_path.stat().st_size if a_path.exists() else 0
            sizes[f"chat/{split}"] = c_path.stat().st_size if c_path.exists() else 0
        return sizes

    def finish(self, shard_rows) -> dict[str, int]:
        """Close the arrays, move the files into place, write dataset_info.json; returns row counts.
        `shard_rows(split)` iterates the SFT rows of the shards (for a rebuild)."""
        if self.rebuild:
            self._rebuild(shard_rows)
        counts: dict[str, int] = {}
        info: dict[str, dict] = {}
        for split in self.splits:
            alpaca, chat = self._paths(split)
            with self._partial(alpaca).open("ab") as fh:
                fh.write(_CLOSE.encode())
            os.replace(self._partial(alpaca), alpaca)
            os.replace(self._partial(chat), chat)
            counts[f"alpaca/{split}"] = counts[f"chat/{split}"] = self.rows[split]
            info[f"proteinlm_sft_{split}"] = {"file_name": f"alpaca/{split}.json"}
            info[f"proteinlm_sft_chat_{split}"] = {
                "file_name": f"chat/{split}.jsonl",
                "formatting": "sharegpt",
                "columns": {"messages": "messages"},
                "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
            }
        (self.out / "sft" / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")
        return counts

    def _rebuild(self, shard_rows, batch: int = 5000) -> None:
        """Write the exports afresh from the shards' rows, through the same `export_parts`."""
        self.rebuild = False
        self.rows = {s: 0 for s in self.splits}
        self.start(None, {})
        for split in self.splits:
            rows = iter(shard_rows(split))
            while part := list(itertools.islice(rows, batch)):
                self.append({split: (*encoded_rows(part, True)[1:], len(part))})


def shard_rows(out: Path, split: str) -> Iterator[dict]:
    """The SFT rows of a build's shards (UniProt tasks, then ECoT) in order, from JSONL.gz or,
    for a Parquet-only build, Parquet."""
    for subset in ("uniprot", "ecot"):
        folder = out / "sft" / subset
        shards = sorted(folder.glob(f"{split}-*.jsonl.gz"))
        if shards:
            for shard in shards:
                yield from read_jsonl_gz(shard)
            continue
        import pyarrow.parquet as pq

        for shard in sorted(folder.glob(f"{split}-*.parquet")):
            yield from pq.read_table(shard).to_pylist()
