"""Tokenise documents and pack them into fixed-length training rows, streaming to disk.

Layout of `out_dir` (all deterministic: same texts, tokenizer and options -> identical bytes):

- `tokens.bin`: raw C-order array [rows, seq_len] of uint16 (vocab < 65536) or uint32, readable
  with `np.memmap(path, dtype, mode="r", shape=(rows, seq_len))` (see `open_packed`). The flat
  stream is doc0 tokens, EOS, doc1 tokens, EOS, ... cut every `seq_len` tokens; a document may
  span two rows (standard GPT-style packing; the EOS tells the model where a document ends).
- `doc_index.npy`: int64 start offset of each document in the flat stream (document i covers
  `[doc_index[i], next start or tokens)`, its EOS being the last of those).
- `pack.json`: seq_len, dtype, rows, documents, tokens (incl. EOS, excl. padding), padding,
  pad_id, tokenizer, eos_id. Written last, so its presence means the pack is complete.

Leftover tokens that do not fill a last row are kept (default): the row is filled with `pad_id`
(default `eos_id`) and `padding` records how many, so a loader can mask flat positions
>= `tokens`. Dropping them (`drop_last=True`) would lose the tail of small datasets silently; for
large ones it costs less than one row. With `drop_last=True` the dropped count is in
`dropped_tokens` and `doc_index` still lists every document (some starts then lie past the end).

Memory: one batch of encodings plus less than one row of carry-over; offsets go to a temporary
raw file and are converted to `.npy` at the end in chunks.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable

import numpy as np

from proteinlm.errors import ProteinLMError

_CHUNK = 1 << 20  # offsets copied into the .npy 1M at a time


@dataclass
class PackStats:
    seq_len: int
    dtype: str
    rows: int
    documents: int
    tokens: int  # real tokens in the stream incl. one EOS per document, excl. padding
    padding: int  # pad tokens in the final row (0 when drop_last or when the stream fits exactly)
    dropped_tokens: int  # leftover tokens dropped (drop_last=True only)
    pad_id: int
    eos_id: int
    tokenizer: str | None


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _pick_dtype(tokenizer, dtype: str | None) -> np.dtype:
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    if dtype is None:
        dtype = "uint16" if vocab <= 65536 else "uint32"  # ids run 0..vocab-1
    if dtype not in ("uint16", "uint32"):
        raise ValueError(f"dtype must be uint16 or uint32, not {dtype!r}")
    if dtype == "uint16" and vocab > 65536:
        raise ValueError(f"vocabulary of {vocab} ids does not fit uint16")
    return np.dtype(dtype)


def pack_documents(
    texts: Iterable[str],
    tokenizer,
    out_dir: str | Path,
    *,
    seq_len: int = 2048,
    eos_id: int,
    batch_size: int = 256,
    dtype: str | None = None,
    pad_id: int | None = None,
    drop_last: bool = False,
    tokenizer_name: str | None = None,
) -> PackStats:
    """`tokenizer`: a `tokenizers.Tokenizer`. `dtype`: None picks uint16/uint32 from the vocab."""
    if seq_len < 1 or batch_size < 1:
        raise ValueError("seq_len and batch_size must be positive")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np_dtype = _pick_dtype(tokenizer, dtype)
    pad_id = eos_id if pad_id is None else pad_id
    tokens_path, index_path = out / "tokens.bin", out / "doc_index.npy"
    tokens_tmp, offsets_tmp = _tmp(tokens_path), out / f".offsets.tmp-{os.getpid()}"
    # a stale pack.json would vouch for half-written files if we are killed mid-way
    (out / "pack.json").unlink(missing_ok=True)

    carry = np.empty(0, dtype=np_dtype)  # < seq_len tokens waiting for a full row
    total = documents = rows = 0
    it = iter(texts)
    # encode_batch_fast (tokenizers >= 0.20) skips the character offsets we never read: ~20% faster.
    # Byte-level BPE tokenizers go through the per-word cache (same ids, see token_cache.py).
    from proteinlm.dataset.steps.token_cache import WordCacheCounter, supports_word_cache

    words = WordCacheCounter(tokenizer) if supports_word_cache(tokenizer) else None
    fast = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)

    def encode(batch: list[str]) -> list[list[int]]:
        return words.ids(batch) if words else [e.ids for e in fast(batch, add_special_tokens=False)]

    with tokens_tmp.open("wb") as tok_fh, offsets_tmp.open("wb") as off_fh:
        while True:
            batch = list(islice(it, batch_size))
            if not batch:
                break
            encodings = encode(batch)
            flat: list[int] = []
            lengths = np.empty(len(encodings), dtype=np.int64)
            for i, ids in enumerate(encodings):
                flat.extend(ids)
                flat.append(eos_id)
                lengths[i] = len(ids) + 1
            # start offsets: running total before each document
            starts = total + np.concatenate(([0], np.cumsum(lengths[:-1])))
            off_fh.write(starts.astype(np.int64).tobytes())
            total += int(lengths.sum())
            documents += len(encodings)
            stream = np.concatenate((carry, np.asarray(flat, dtype=np_dtype)))
            full = len(stream) // seq_len * seq_len
            tok_fh.write(stream[:full].tobytes())
            rows += full // seq_len
            carry = stream[full:].copy()  # copy: let the batch's big array go
        padding = dropped = 0
        if len(carry):
            if drop_last:
                dropped = len(carry)
            else:
                padding = seq_len - len(carry)
                tail = np.concatenate((carry, np.full(padding, pad_id, dtype=np_dtype)))
                tok_fh.write(tail.tobytes())
                rows += 1

    _offsets_to_npy(offsets_tmp, index_path, documents)
    offsets_tmp.unlink()
    os.replace(tokens_tmp, tokens_path)
    stats = PackStats(
        seq_len=seq_len,
        dtype=np_dtype.name,
        rows=rows,
        documents=documents,
        tokens=total - dropped,
        padding=padding,
        dropped_tokens=dropped,
        pad_id=pad_id,
        eos_id=eos_id,
        tokenizer=tokenizer_name,
    )
    meta_tmp = _tmp(out / "pack.json")
    meta_tmp.write_text(json.dumps(asdict(stats), indent=2) + "\n", encoding="utf-8")
    os.replace(meta_tmp, out / "pack.json")
    return stats


def _offsets_to_npy(raw: Path, target: Path, count: int) -> None:
    tmp = _tmp(target)
    if count == 0:  # numpy cannot memory-map an empty array
        with tmp.open("wb") as fh:
            np.save(fh, np.empty(0, dtype=np.int64))
        os.replace(tmp, target)
        return
    # open_memmap writes a standard .npy header; np.load(mmap_mode="r") reads it back
    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int64, shape=(count,))
    with raw.open("rb") as fh:
        pos = 0
        while pos < count:
            chunk = np.frombuffer(fh.read(_CHUNK * 8), dtype=np.int64)
            arr[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
    arr.flush()
    del arr
    os.replace(tmp, target)


def open_packed(out_dir: str | Path) -> tuple[np.memmap, np.ndarray, dict]:
    """(tokens memmap [rows, seq_len], doc_index, pack.json) of a finished pack."""
    out = Path(out_dir)
    meta = json.loads((out / "pack.json").read_text(encoding="utf-8"))
    shape = (meta["rows"], meta["seq_len"])
    if meta["rows"] == 0:  # np.memmap refuses empty files
        tokens = np.zeros(shape, dtype=meta["dtype"])
    else:
        tokens = np.memmap(out / "tokens.bin", dtype=meta["dtype"], mode="r", shape=shape)
    index = np.load(out / "doc_index.npy", mmap_mode="r" if meta["documents"] else None)
    return tokens, index, meta


def eos_id(tokenizer) -> int:
    """`<|endoftext|>` (SmolLM2's document separator, id 0), else `<|im_end|>`."""
    for tok in ("<|endoftext|>", "<|im_end|>", "</s>"):
        i = tokenizer.token_to_id(tok)
        if i is not None:
            return i
    raise ProteinLMError("the tokenizer has no <|endoftext|> / <|im_end|> token to end documents with")


def pack_subsets(subset_dirs: list[str], out: str | Path, *, seq_len: int = 2048, tokenizer: str = "smollm2") -> dict:
    """Pack the train shards of `subset_dirs` (in the order given) into OUT/packed/."""
    from proteinlm.dataset.steps.tokens import TokenCounter
    from proteinlm.dataset.steps.writers import iter_texts

    counter = TokenCounter(tokenizer)
    if counter.tokenizer is None:
        raise ProteinLMError("packing needs a tokenizer (not `none`)")
    for d in subset_dirs:
        if not Path(d).is_dir():
            raise ProteinLMError(f"{d}: no such build directory")
    target = Path(out) / "packed"
    stats = pack_documents(iter_texts(subset_dirs), counter.tokenizer, target, seq_len=seq_len,
                           eos_id=eos_id(counter.tokenizer), tokenizer_name=counter.name)
    return asdict(stats) | {"subset_dirs": [str(d) for d in subset_dirs], "dir": str(target)}
