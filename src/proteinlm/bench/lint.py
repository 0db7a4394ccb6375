"""`proteinlm bench check`: what is odd in a benchmark file, read record by record as the loader reads it.

Errors are what makes scoring wrong: a record the loader rejects (answer out of range, empty option,
no answer, ...), a duplicate id, an answer whose text is also another option (two options are the
same answer), the same question twice with different answers. Everything else is a warning:
duplicate and near-duplicate questions, repeated options, explanations that cite another option
than the answer (options shuffled after the explanation was written), questions a six-column CSV
layout cannot hold, and questions where the official prompt's "unsure" label, "option 7", is also
a real option.

Near-duplicates: character 5-gram shingles of the normalised question and its options (in sorted
order, so a shuffled copy matches), MinHash LSH from datasketch to find candidate pairs, then the
exact Jaccard similarity of the shingle sets (>= 0.7) to confirm them. Characters rather than words:
questions are short, and one changed word in a 15-word question already costs a word-trigram set
a fifth of its members.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from proteinlm.bench.loaders import raw_rows, validate_record
from proteinlm.benchgen.shuffle import cited_numbers
from proteinlm.errors import BenchDataError
from proteinlm.records import MCQ

CSV_COLUMNS = 6  # option columns of the published CSV layout
ABSTAIN_NUMBER = 7  # the official prompt: "If you are still unsure about the answer, output option 7."
NEAR_THRESHOLD = 0.7  # one word changed in a short question: ~0.8; unrelated questions: < 0.2

# (key, severity, what the table calls it), in the order the table shows them
CHECKS = (
    ("invalid_record", "error", "invalid records"),
    ("empty_option", "error", "empty options"),
    ("duplicate_id", "error", "duplicate ids"),
    ("answer_repeated", "error", "answer text in another option"),
    ("conflicting_answers", "error", "same question, other answer"),
    ("duplicate_options", "warning", "duplicate options"),
    ("duplicate_question", "warning", "duplicate questions"),
    ("near_duplicate", "warning", "near-duplicate questions"),
    ("stale_explanation", "warning", "explanation cites other option"),
    ("csv_cut", "warning", f"cut by a {CSV_COLUMNS}-column CSV"),
    ("abstention_clash", "warning", f"'option {ABSTAIN_NUMBER}' unsure-label clash"),
)
SEVERITY = {key: severity for key, severity, _ in CHECKS}
_EMPTY_OPTION = re.compile(r"option \d+ is empty")
_SPACE = re.compile(r"\s+")


@dataclass
class Finding:
    check: str  # a key of CHECKS
    where: str  # "record 12 (line 13, id q12)"
    detail: str

    @property
    def severity(self) -> str:
        return SEVERITY[self.check]


@dataclass
class LintReport:
    source: str
    records: int  # rows read
    valid: int
    option_counts: dict[int, int]  # number of options -> questions (valid records)
    answer_positions: dict[int, int]  # 1-based answer position -> questions
    findings: list[Finding] = field(default_factory=list)

    def of(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    def as_dict(self) -> dict:
        return {
            "source": self.source, "records": self.records, "valid": self.valid,
            "option_counts": self.option_counts, "answer_positions": self.answer_positions,
            "errors": self.errors, "warnings": self.warnings,
            "counts": {key: len(self.of(key)) for key, _, _ in CHECKS},
            "findings": [dict(asdict(f), severity=f.severity) for f in self.findings],
        }


def normalise(text: str) -> str:
    """Case, width, spacing and trailing punctuation do not make two texts different."""
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    return text.rstrip(" .。;；,，")


def _where(index: int, line: int | None, record_id: str | None = None) -> str:
    extra = ", ".join(x for x in ((f"line {line}" if line else ""), (f"id {record_id}" if record_id else "")) if x)
    return f"record {index}" + (f" ({extra})" if extra else "")


def _option_checks(mcq: MCQ, where: str, findings: list[Finding]) -> None:
    n, answer = len(mcq.options), mcq.answer + 1
    seen: dict[str, int] = {}
    for number, text in enumerate(mcq.options, 1):
        key = normalise(text)
        if key in seen:
            first = seen[key]
            check = "answer_repeated" if answer in (first, number) else "duplicate_options"
            findings.append(Finding(check, where, f"options {first} and {number} are the same text: {text[:60]!r}"))
        else:
            seen[key] = number
    cited = cited_numbers(mcq.explanation)
    if cited and answer not in cited:
        beyond = sorted({c for c in cited if c > n})
        note = f" (the question has {n} options)" if beyond else ""
        shown = ", ".join(str(c) for c in dict.fromkeys(cited))
        findings.append(Finding("stale_explanation", where, f"explanation cites option {shown}{note}; the answer is option {answer}"))
    if n > CSV_COLUMNS or answer > CSV_COLUMNS:
        lost = f"option {n} is" if n == CSV_COLUMNS + 1 else f"options {CSV_COLUMNS + 1}-{n} are"
        findings.append(Finding("csv_cut", where, f"{n} options, answer {answer}: {lost} lost"))
    if n >= ABSTAIN_NUMBER:
        what = "the answer" if answer == ABSTAIN_NUMBER else "an option"
        findings.append(Finding("abstention_clash", where,
                                f"{n} options: option {ABSTAIN_NUMBER} is {what} here, not 'unsure' (answer {answer})"))


def _shingles(mcq: MCQ, n: int = 5) -> set[str]:
    text = " | ".join([normalise(mcq.question), *sorted(normalise(o) for o in mcq.options)])
    return {text[i:i + n] for i in range(max(1, len(text) - n + 1))}


def _near_duplicates(items: list[tuple[str, MCQ]], exact_pairs: set[tuple[int, int]]) -> list[Finding]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=NEAR_THRESHOLD, num_perm=128)
    template = MinHash(num_perm=128, seed=1)
    shingle_sets: list[set[str]] = []
    findings = []
    for k, (where, mcq) in enumerate(items):
        shingles = _shingles(mcq)
        sig = template.copy()
        sig.update_batch([s.encode("utf-8") for s in sorted(shingles)])
        for other in sorted(lsh.query(sig)):
            jaccard = len(shingles & shingle_sets[other]) / len(shingles | shingle_sets[other])
            if jaccard >= NEAR_THRESHOLD and (other, k) not in exact_pairs:
                findings.append(Finding("near_duplicate", where, f"close to {items[other][0]} (Jaccard {jaccard:.2f})"))
                break
        lsh.insert(k, sig, check_duplication=False)
        shingle_sets.append(shingles)
    return findings


def lint_bench(spec: str, *, hf_split: str = "train") -> LintReport:
    """Check every record of a benchmark (file, `sample` or `hf:owner/name`). File-level problems
    (missing file, broken JSON) raise BenchDataError as the loader does."""
    source, rows = raw_rows(spec, hf_split=hf_split)
    findings: list[Finding] = []
    valid: list[tuple[str, MCQ]] = []
    first_of_id: dict[str, str] = {}
    for index, line, raw in rows:
        try:
            if isinstance(raw, Exception):
                raise BenchDataError(f"record {index}: {raw}")
            mcq = validate_record(raw, index)
        except BenchDataError as exc:
            reason = str(exc).split(": ", 1)[-1]
            check = "empty_option" if _EMPTY_OPTION.search(reason) else "invalid_record"
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            findings.append(Finding(check, _where(index, line, None if raw_id in (None, "") else str(raw_id)), reason))
            continue
        where = _where(index, line, mcq.id)
        if mcq.id in first_of_id:
            findings.append(Finding("duplicate_id", where, f"id {mcq.id!r} is also {first_of_id[mcq.id]}"))
            continue
        first_of_id[mcq.id] = where
        valid.append((where, mcq))
        _option_checks(mcq, where, findings)

    # exact duplicates: the same question with the same set of options (shuffled or not)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, (_, mcq) in enumerate(valid):
        groups[(normalise(mcq.question), tuple(sorted(normalise(o) for o in mcq.options)))].append(k)
    exact_pairs: set[tuple[int, int]] = set()
    for members in groups.values():
        first_where, first = valid[members[0]]
        for k in members[1:]:
            where, mcq = valid[k]
            exact_pairs.update((m, k) for m in members if m < k)
            same = normalise(mcq.options[mcq.answer]) == normalise(first.options[first.answer])
            check = "duplicate_question" if same else "conflicting_answers"
            detail = f"same question and options as {first_where}" + (
                "" if same else f", but the answer is {mcq.options[mcq.answer][:40]!r}, not {first.options[first.answer][:40]!r}")
            findings.append(Finding(check, where, detail))
    findings.extend(_near_duplicates(valid, exact_pairs))

    order = {key: i for i, (key, _, _) in enumerate(CHECKS)}
    findings.sort(key=lambda f: order[f.check])  # stable: record order within a check
    return LintReport(
        source=source, records=len(rows), valid=len(valid),
        option_counts=dict(sorted(Counter(len(m.options) for _, m in valid).items())),
        answer_positions=dict(sorted(Counter(m.answer + 1 for _, m in valid).items())),
        findings=findings,
    )


def print_report(report: LintReport, console, examples: int = 3) -> None:
    """The table (one row per check, with its first records) and, below it, every finding up to 10 per check."""
    from rich.table import Table

    def spread(counts: dict[int, int]) -> str:
        return "  ".join(f"{k}: {v}" for k, v in counts.items()) or "-"

    table = Table(title=f"bench check: {report.source}", title_justify="left", show_lines=False)
    table.add_column("check", no_wrap=True)  # titles are at most 30 characters
    table.add_column("n", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("first records", overflow="fold")
    table.add_row("records read / valid", f"{report.records}", "", f"{report.valid} valid")
    table.add_row("options per question", "", "", spread(report.option_counts))
    table.add_row("answer position", "", "", spread(report.answer_positions))
    for key, severity, title in CHECKS:
        found = report.of(key)
        mark = "[green]ok[/]" if not found else ("[bold red]error[/]" if severity == "error" else "[yellow]warn[/]")
        firsts = "; ".join(f.where.split(" (")[0] for f in found[:examples]) + (" ..." if len(found) > examples else "")
        table.add_row(title, str(len(found)), mark, firsts)
    console.print(table)
    for key, _, title in CHECKS:
        found = report.of(key)
        for f in found[:10]:  # wrapped here with a hanging indent, so a finding reads as one item
            text = textwrap.fill(f"{f.severity}: {f.where}: {f.detail}", width=max(40, console.width - 2),
                                 initial_indent="  ", subsequent_indent="      ")
            console.print(text, markup=False, highlight=False, soft_wrap=True)
        if len(found) > 10:
            console.print(f"  ... and {len(found) - 10} more {title} (all of them with --json)", markup=False)
    console.print(f"{report.errors} errors, {report.warnings} warnings", markup=False)
