"""Load ProteinLMBench-style multiple-choice benchmarks and validate every record.

Sources: the packaged sample ("sample"), local JSON / JSONL / CSV files (optionally gzipped) and
Hugging Face datasets ("hf:owner/name" or "owner/name").  Every source ends up as raw dicts that go
through one validator, so the same questions give equal `MCQ` lists whatever the file format.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from proteinlm.bench.hub_source import HF_NAME, hub_rows
from proteinlm.errors import BenchDataError
from proteinlm.records import MCQ

# Option labels we strip. The separator after an ASCII "." / ")" / ":" must be followed by a space
# (or end the option) so that "1.5 mM" or "3:1 ratio" are never mistaken for labels.
_LABEL_PATTERNS = [
    re.compile(r"^option\s*(\d+)\s*[:：.．]\s*", re.IGNORECASE),
    re.compile(r"^(\d+)(?:[.)]|:)(?:\s+|$)|^(\d+)\s*[．、）：]\s*"),
    re.compile(r"^[(（](\d+)[)）]\s*"),
    re.compile(r"^([A-Za-z])(?:[.)]|:)(?:\s+|$)|^([A-Za-z])\s*[．、）：]\s*"),
    re.compile(r"^[(（]([A-Za-z])[)）]\s*"),
]
_ANSWER_NUMBER = re.compile(r"^(?:option\s*)?(\d+)\s*(?:[:：.．)].*)?$", re.IGNORECASE | re.DOTALL)
_ANSWER_LETTER = re.compile(r"^(?:option\s*)?[(（]?([A-Za-z])[)）]?\s*(?:[:：.．].*)?$", re.IGNORECASE | re.DOTALL)
# Per-option columns (CSV, some HF exports): option_1 / "option 1" / option1 (any number, the real
# benchmark goes to 10), or a single letter A-J.
_OPTION_COLUMN = re.compile(r"^(?:option[\s_-]*(\d+)|([a-j]))$")
_FILE_SUFFIX = re.compile(r"\.(json|jsonl|csv)(\.gz)?$", re.IGNORECASE)
_CATEGORY_KEYS = ("category", "subject", "type")


@dataclass
class Bench:
    name: str  # "sample", file stem, or HF dataset name
    source: str  # path or "hf:tsynbio/ProteinLMBench/evaluation"
    sha256: str  # hash of the source bytes (files) or of the canonical JSON of the records (HF)
    records: list[MCQ]
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (record index, reason)


class _Invalid(Exception):
    """One record is invalid; carries only the reason, the caller adds file/index/line."""


def _label_number(label: str) -> int:
    return int(label) if label.isdigit() else ord(label.lower()) - ord("a") + 1


def _strip_labels(options: list[str]) -> list[str]:
    """Strip "option N: "-style labels, but only if one pattern labels every option 1..n in order;
    a partial or out-of-order match means the prefix is probably content, so it is kept."""
    for pattern in _LABEL_PATTERNS:
        matches = [pattern.match(text) for text in options]
        if not all(matches):
            continue
        labels = [next(g for g in m.groups() if g is not None) for m in matches]
        if [_label_number(label) for label in labels] == list(range(1, len(options) + 1)):
            return [text[m.end():].strip() for text, m in zip(options, matches)]
    return options


def _parse_answer(answer: Any, n_options: int) -> int:
    """Normalise "option 3" / "Option 3" / "3" / 3 / "C" to the 0-based index 2."""
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        raise _Invalid("answer is missing")
    number: int | None = None
    if isinstance(answer, bool):
        pass  # bool is an int subclass, but True is no option number
    elif isinstance(answer, int) or (isinstance(answer, float) and answer.is_integer()):
        number = int(answer)
    elif isinstance(answer, str):
        if m := _ANSWER_NUMBER.match(answer.strip()):
            number = int(m.group(1))
        elif m := _ANSWER_LETTER.match(answer.strip()):
            number = _label_number(m.group(1))
    if number is None:
        raise _Invalid(f"answer {answer!r} is not an option number or letter")
    if not 1 <= number <= n_options:
        raise _Invalid(f"answer '{answer}' points to option {number} but the record has {n_options} options")
    return number - 1


def _options_from(raw: dict[str, Any], keys: dict[str, str]) -> tuple[Any, set[str]]:
    """The raw options value and the raw keys it used: an `options` list, else per-option columns."""
    if "options" in keys:
        return raw[keys["options"]], {keys["options"]}
    numbered: dict[int, Any] = {}
    for low, key in keys.items():
        if m := _OPTION_COLUMN.match(low):
            numbered[_label_number(m.group(1) or m.group(2))] = raw[key]
    if not numbered:
        return None, set()
    values = [numbered.get(i) for i in range(1, max(numbered) + 1)]
    while values and (values[-1] is None or str(values[-1]).strip() == ""):
        values.pop()  # empty trailing cells mean the question has fewer options
    return values, {keys[low] for low in keys if _OPTION_COLUMN.match(low)}


def _to_mcq(raw: Any, index: int) -> MCQ:
    if not isinstance(raw, dict):
        raise _Invalid(f"record is not an object (got {type(raw).__name__})")
    keys = {str(k).strip().lower(): k for k in raw}  # tolerate "Question", " answer "
    used: set[str] = set()

    def take(name: str) -> Any:
        if name not in keys:
            return None
        used.add(keys[name])
        return raw[keys[name]]

    question = take("question")
    if question is None:
        raise _Invalid("question is missing")
    if not isinstance(question, str):
        raise _Invalid(f"question is not text (got {type(question).__name__})")
    if not question.strip():
        raise _Invalid("question is empty")

    options, option_keys = _options_from(raw, keys)
    used |= option_keys
    if isinstance(options, str):  # CSV / HF exports keep the list as a JSON string
        try:
            options = json.loads(options)
        except json.JSONDecodeError:
            raise _Invalid("options is a string that is not a JSON list") from None
    if options is None:
        raise _Invalid("options are missing")
    if not isinstance(options, (list, tuple)):
        raise _Invalid(f"options is not a list (got {type(options).__name__})")
    if len(options) < 2:
        raise _Invalid(f"a question needs at least 2 options, got {len(options)}")
    texts = []
    for number, option in enumerate(options, 1):
        if isinstance(option, (dict, list, bool)):
            raise _Invalid(f"option {number} is not text (got {type(option).__name__})")
        texts.append("" if option is None else str(option).strip())
    texts = _strip_labels(texts)
    for number, text in enumerate(texts, 1):
        if not text:
            raise _Invalid(f"option {number} is empty")

    answer = _parse_answer(take("answer"), len(texts))
    record_id = take("id")
    explanation = take("explanation")
    category = next((v for k in _CATEGORY_KEYS if (v := take(k)) not in (None, "")), None)
    meta = {k: v for k, v in raw.items() if k not in used}
    return MCQ(
        id=str(record_id).strip() if record_id not in (None, "") else f"q{index:04d}",
        question=question.strip(),
        options=tuple(texts),
        answer=answer,
        explanation="" if explanation is None else str(explanation).strip(),
        category=None if category is None else str(category),
        meta=meta,
    )


def validate_record(raw: dict, index: int) -> MCQ:
    """Validate one raw record; raises BenchDataError naming the record index and the reason."""
    try:
        return _to_mcq(raw, index)
    except _Invalid as e:
        raise BenchDataError(f"record {index}: {e}") from None


# A row is (record index, line number or None, raw record or the _Invalid it could not be parsed to).
_Row = tuple[int, int | None, Any]


def _json_rows(text: str, source: str) -> list[_Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        hint = " (one object per line? name the file .jsonl)" if e.msg == "Extra data" else ""
        raise BenchDataError(f"{source}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}{hint}") from None
    if isinstance(data, dict):
        data = next((data[k] for k in ("data", "questions") if isinstance(data.get(k), list)), data)
    if not isinstance(data, list):
        raise BenchDataError(
            f"{source}: expected a JSON list of questions (or an object with a 'data' or 'questions' list), "
            f"got {type(data).__name__}"
        )
    return [(i, None, raw) for i, raw in enumerate(data)]


def _jsonl_rows(text: str, source: str) -> list[_Row]:
    rows: list[_Row] = []
    # split on "\n" only: str.splitlines() would also split on U+2028 etc. inside JSON strings
    for line_no, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            raw: Any = json.loads(line)
        except json.JSONDecodeError as e:
            raw = _Invalid(f"invalid JSON at column {e.colno}: {e.msg}")
        rows.append((len(rows), line_no, raw))
    return rows


def _csv_rows(text: str, source: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        lowered = {h.lower() for h in header}
        missing = [c for c in ("question", "answer") if c not in lowered]
        if missing:
            raise BenchDataError(f"{source}: CSV header (line 1) lacks column(s) {', '.join(missing)}")
        if "options" not in lowered and not any(_OPTION_COLUMN.match(h) for h in lowered):
            raise BenchDataError(
                f"{source}: CSV header (line 1) needs an 'options' column (JSON list) "
                "or per-option columns: option 1..option 10 (option_1, option1) or A..J"
            )
        rows: list[_Row] = []
        last_line = reader.line_num
        for cells in reader:
            # a quoted cell may span lines: the record starts right after the previous one ended
            start, last_line = last_line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raw: Any = _Invalid(f"row has {len(cells)} cells but the header has {len(header)}")
            else:  # an empty cell is an absent value (e.g. no option 5, no id)
                raw = {col: cell for col, cell in zip(header, cells) if cell.strip()}
            rows.append((len(rows), start, raw))
    except csv.Error as e:
        raise BenchDataError(f"{source}: malformed CSV at line {reader.line_num}: {e}") from None
    return rows


_READERS = {".json": _json_rows, ".jsonl": _jsonl_rows, ".csv": _csv_rows}


def _build(name: str, source: str, sha256: str, rows: list[_Row], skip_invalid: bool) -> Bench:
    records: list[MCQ] = []
    skipped: list[tuple[int, str]] = []
    first_index_of: dict[str, int] = {}
    for index, line, raw in rows:
        where = f"{source}: record {index}" + (f" (line {line})" if line else "")
        try:
            if isinstance(raw, _Invalid):
                raise raw
            mcq = _to_mcq(raw, index)
            if mcq.id in first_index_of:
                raise _Invalid(f"duplicate id {mcq.id!r} (already used by record {first_index_of[mcq.id]})")
        except _Invalid as e:
            if not skip_invalid:
                raise BenchDataError(f"{where}: {e}") from None
            skipped.append((index, f"line {line}: {e}" if line else str(e)))
            continue
        first_index_of[mcq.id] = index
        records.append(mcq)
    if not records:
        detail = f" ({len(skipped)} invalid skipped, first: record {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise BenchDataError(f"{source}: no valid questions{detail}")
    return Bench(name=name, source=source, sha256=sha256, records=records, skipped=skipped)


_Source = tuple[str, str, str, list[_Row]]  # (name, source, sha256, rows), before validation


def _load_bytes(data: bytes, filename: str, source: str, name: str) -> _Source:
    sha256 = hashlib.sha256(data).hexdigest()  # of the bytes as stored, so it matches `sha256sum`
    lower = filename.lower()
    if lower.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise BenchDataError(f"{source}: cannot decompress gzip file: {e}") from None
        lower = lower[:-3]
    reader = _READERS.get(os.path.splitext(lower)[1])
    if reader is None:
        raise BenchDataError(f"{source}: unsupported file type; use .json, .jsonl or .csv (optionally .gz)")
    try:
        text = data.decode("utf-8-sig")  # -sig: tolerate the BOM that Excel writes
    except UnicodeDecodeError as e:
        raise BenchDataError(f"{source}: not UTF-8 text (byte {e.start}): {e.reason}") from None
    return name, source, sha256, reader(text, source)


def _load_file(path: Path) -> _Source:
    if not path.is_file():
        problem = "is not a file" if path.exists() else "not found"
        raise BenchDataError(f"benchmark path {problem}: {path}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BenchDataError(f"cannot read benchmark file {path}: {e}") from None
    stem = re.sub(r"(\.[^.]+)?(\.gz)?$", "", path.name, flags=re.IGNORECASE) or path.name
    return _load_bytes(data, path.name, str(path), stem)


def _load_sample() -> _Source:
    resource = resources.files("proteinlm.bench") / "data" / "sample.json"
    if not resource.is_file():
        raise BenchDataError(f"the packaged sample benchmark is missing ({resource}); reinstall proteinlm")
    return _load_bytes(resource.read_bytes(), "sample.json", str(resource), "sample")


def _load_hf(spec: str, split: str) -> _Source:
    name, source, sha256, rows = hub_rows(spec, split)
    return name, source, sha256, [(i, None, raw) for i, raw in enumerate(rows)]


def load_bench(spec: str, *, skip_invalid: bool = False, hf_split: str = "train") -> Bench:
    """Load a benchmark: "sample", a local .json/.jsonl/.csv(.gz) path, or "hf:owner/name" / "owner/name".

    With skip_invalid=True invalid records are left out and listed in `Bench.skipped`; file-level
    problems (unreadable file, broken JSON) always raise BenchDataError.
    """
    name, source, sha256, rows = _source(spec, hf_split)
    return _build(name, source, sha256, rows, skip_invalid)


def raw_rows(spec: str, *, hf_split: str = "train") -> tuple[str, list[_Row]]:
    """(source, rows) before validation, for `bench check`: a row is (index, line or None, raw record
    or the exception it could not be parsed to); `validate_record` validates a raw record."""
    _, source, _, rows = _source(spec, hf_split)
    return source, rows


def _source(spec: str, hf_split: str) -> _Source:
    spec = str(spec).strip()
    if spec == "sample":
        return _load_sample()
    if spec.startswith("hf:"):
        return _load_hf(spec[3:], hf_split)
    path = Path(spec).expanduser()
    # "owner/name" means the Hub only when it is not a local file and does not look like one
    if path.exists() or _FILE_SUFFIX.search(spec) or not HF_NAME.match(spec):
        return _load_file(path)
    return _load_hf(spec, hf_split)
