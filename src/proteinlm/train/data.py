"""Training data from what `proteinlm build` writes (files only; no builder internals).

SFT: a build directory (its `sft/alpaca/<split>.json`), an alpaca JSON/JSONL file or a chat
`messages` JSONL file -> TRL prompt/completion rows, so the loss falls on the responses only.
Pretraining: a `packed/` directory (`pack.json` + `tokens.bin`) -> fixed-length `input_ids` rows, or
build directories with `pretrain/<subset>/<split>-*.jsonl.gz` documents -> `text` rows (TRL packs them).
"""

from __future__ import annotations

import gzip
import json
import re
from itertools import chain
from pathlib import Path
from typing import Iterator

from proteinlm.train.model import TrainError

SEQ_SPAN = re.compile(r"(<seq>)(.*?)(</seq>)", re.S)
TEMPLATE_SLACK = 16  # tokens the chat template adds around a turn (SmolLM2 adds ~10)


# ----------------------------------------------------------------------------------------- SFT
def sft_files(data: list[str], split: str) -> list[Path]:
    files: list[Path] = []
    for item in data:
        path = Path(item)
        if path.is_dir():
            alpaca = path / "sft" / "alpaca" / f"{split}.json"
            if not alpaca.is_file():
                alpaca = path / "alpaca" / f"{split}.json"  # the sft/ folder itself was given
            if not alpaca.is_file():
                raise TrainError(f"{path}: no sft/alpaca/{split}.json (is this a `proteinlm build uniprot` output?)")
            files.append(alpaca)
        elif path.is_file():
            files.append(path)
        else:
            raise TrainError(f"{path}: no such file or directory")
    return files


def _records(path: Path) -> Iterator[tuple[str, dict]]:
    """(location, record) for each example of a JSON list or JSONL file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        head = fh.read(1)
        while head and head.isspace():
            head = fh.read(1)
        if head == "[":
            try:
                rows = json.loads(head + fh.read())
            except json.JSONDecodeError as exc:
                raise TrainError(f"{path}: not valid JSON ({exc})") from exc
            for i, row in enumerate(rows):
                yield f"{path} record {i}", row
            return
        for lineno, line in enumerate(chain([head + fh.readline()], fh), start=1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{lineno}", json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainError(f"{path}:{lineno}: not valid JSON ({exc})") from exc


def to_turns(where: str, row: dict) -> tuple[list[dict], str]:
    """(conversation before the answer, answer) for an alpaca or `messages` record."""
    if isinstance(row, dict) and "messages" in row:
        msgs = row["messages"]
        if not msgs or msgs[-1].get("role") != "assistant":
            raise TrainError(f"{where}: `messages` must end with an assistant turn")
        return [dict(m) for m in msgs[:-1]], str(msgs[-1].get("content", ""))
    if isinstance(row, dict) and "instruction" in row and "output" in row:
        user = str(row["instruction"]).strip()
        if str(row.get("input") or "").strip():
            user += "\n" + str(row["input"]).strip()
        return [{"role": "user", "content": user}], str(row["output"])
    raise TrainError(f"{where}: expected alpaca fields (instruction, input, output) or `messages`")


def shorten_sequence(text: str, excess_tokens: int) -> str | None:
    """Drop about `excess_tokens` residues from the end of the `<seq>` span (one residue ≈ one token
    in the spaced form), marking the cut with `...`. None when there is no span long enough."""
    match = SEQ_SPAN.search(text)
    if not match:
        return None
    residues = match.group(2).split()
    keep = len(residues) - excess_tokens - 2
    if keep < 8:
        return None
    body = " " + " ".join(residues[:keep]) + " ... "
    return text[: match.start(2)] + body + text[match.end(2) :]


def sft_rows(files: list[Path], tokenizer, *, max_length: int, chat: bool, stats: dict) -> Iterator[dict]:
    """TRL prompt/completion rows. A prompt too long for `max_length` has its sequence shortened so
    the answer (where the loss is) always fits; examples whose text alone is too long are skipped."""
    stats.setdefault("examples", 0)
    stats.setdefault("sequence_shortened", 0)
    stats.setdefault("skipped_too_long", 0)
    for path in files:
        for where, row in _records(path):
            prompt, answer = to_turns(where, row)
            answer_len = len(tokenizer(answer, add_special_tokens=False)["input_ids"])
            for attempt in range(4):
                prompt_len = sum(len(tokenizer(m["content"], add_special_tokens=False)["input_ids"]) for m in prompt)
                excess = prompt_len + answer_len + TEMPLATE_SLACK * (len(prompt) + 1) - max_length
                if excess <= 0:
                    break
                shorter = shorten_sequence(prompt[-1]["content"], excess)
                if shorter is None:
                    break
                prompt[-1]["content"] = shorter
            if excess > 0:
                stats["skipped_too_long"] += 1
                continue
            stats["sequence_shortened"] += attempt > 0
            stats["examples"] += 1
            if chat:
                yield {"prompt": prompt, "completion": [{"role": "assistant", "content": answer}]}
            else:
                text = "\n\n".join(m["content"] for m in prompt)
                yield {"prompt": text + "\n", "completion": answer}


def sft_dataset(data: list[str], tokenizer, *, split: str, max_length: int, chat: bool):
    from datasets import Dataset

    stats: dict = {"files": [str(f) for f in sft_files(data, split)]}
    rows = list(sft_rows([Path(f) for f in stats["files"]], tokenizer, max_length=max_length, chat=chat, stats=stats))
    if not rows:
        raise TrainError(f"no {split} examples in {', '.join(stats['files'])}")
    return Dataset.from_list(rows), stats


# ----------------------------------------------------------------------------------- pretraining
def packed_dir(item: str) -> Path | None:
    path = Path(item)
    for cand in (path, path / "packed"):
        if (cand / "pack.json").is_file():
            return cand
    return None


def packed_rows(pack: Path, tokenizer) -> Iterator[dict]:
    """Rows of a finished pack as `input_ids`; the padding of the last row is trimmed, not trained."""
    import numpy as np

    meta = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    vocab = len(tokenizer)
    eos = tokenizer.convert_tokens_to_ids(tokenizer.convert_ids_to_tokens(meta["eos_id"])) if meta["eos_id"] < vocab else None
    if eos is None:
        raise TrainError(f"{pack}: packed with tokenizer {meta.get('tokenizer')} whose ids exceed this model's vocabulary")
    rows, seq_len = meta["rows"], meta["seq_len"]
    if rows == 0:
        return
    tokens = np.memmap(pack / "tokens.bin", dtype=meta["dtype"], mode="r", shape=(rows, seq_len))
    if int(tokens.max()) >= vocab:
        raise TrainError(f"{pack}: token ids up to {int(tokens.max())} but the model's vocabulary has {vocab}: "
                         f"pack with the model's tokenizer (packed with {meta.get('tokenizer')})")
    real = meta["tokens"]
    for i in range(rows):
        row = tokens[i].astype("int64")
        if (i + 1) * seq_len > real:  # the last row carries padding
            row = row[: max(0, real - i * seq_len)]
        if len(row):
            yield {"input_ids": row.tolist()}


def document_files(item: str, split: str) -> list[Path]:
    path = Path(item)
    if path.is_file():
        return [path]
    root = path / "pretrain" if (path / "pretrain").is_dir() else path
    files = sorted(root.glob(f"*/{split}-*.jsonl.gz")) or sorted(root.glob(f"{split}-*.jsonl.gz"))
    if not files:
        raise TrainError(f"{path}: no packed/ directory and no pretrain/<subset>/{split}-*.jsonl.gz documents")
    return files


def pretrain_dataset(data: list[str], tokenizer, *, split: str):
    """(dataset, stats, packed). `packed` is True when rows are already fixed-length token ids."""
    from datasets import Dataset

    packs = [packed_dir(d) for d in data]
    if all(packs):
        rows = [r for p in packs for r in packed_rows(p, tokenizer)]
        stats = {"packed": [str(p) for p in packs], "rows": len(rows)}
        if not rows:
            raise TrainError("the packed data holds no rows")
        return Dataset.from_list(rows), stats, True
    if any(packs):
        raise TrainError("mix of packed directories and document directories: pass one kind")
    files = [f for d in data for f in document_files(d, split)]
    texts, empty = [], 0
    for path in files:
        for where, row in _records(path):
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise TrainError(f"{where}: a document needs a `text` field")
            if row["text"].strip():
                texts.append({"text": row["text"]})
            else:
                empty += 1
    if not texts:
        raise TrainError(f"no documents in {', '.join(map(str, files))}")
    return Dataset.from_list(texts), {"files": [str(f) for f in files], "documents": len(texts), "empty_dropped": empty}, False
