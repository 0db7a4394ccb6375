"""Template multiple-choice questions from Swiss-Prot annotations, with verifiable answers.

For the proteins of one split of a `proteinlm build uniprot` output (by default `validation`, so
proteins a model was fine-tuned on never appear), each question shows the sequence and asks which
annotation fits it; the answer is the entry's own annotation and the distractors are other proteins'
annotations (plus a few textbook values where the input is too small to offer enough), filtered so
that no distractor is also true of the protein. Everything is chosen by hashing, so the same inputs
and seed give the same file. The output is a ProteinLMBench-shaped JSON list that `proteinlm bench`
reads; each question names its evidence (entry and annotation field) in `explanation`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from proteinlm.errors import ProteinLMError
from proteinlm.records import ProteinEntry
from proteinlm.sources.uniprot import parse

KINDS = ("function", "location", "ec_class", "organism", "name")

EC_CLASSES = {
    "1": "Oxidoreductase (EC 1)", "2": "Transferase (EC 2)", "3": "Hydrolase (EC 3)", "4": "Lyase (EC 4)",
    "5": "Isomerase (EC 5)", "6": "Ligase (EC 6)", "7": "Translocase (EC 7)",
}
# Textbook values that top up small distractor pools (every one is a real UniProt term or organism).
COMMON_LOCATIONS = ("Nucleus", "Cytoplasm", "Secreted", "Cell membrane", "Mitochondrion matrix",
                    "Endoplasmic reticulum lumen", "Golgi apparatus membrane", "Peroxisome", "Lysosome",
                    "Plastid, chloroplast stroma")
COMMON_ORGANISMS = ("Homo sapiens (Human)", "Mus musculus (Mouse)", "Escherichia coli (strain K12)",
                    "Saccharomyces cerevisiae (strain ATCC 204508 / S288c) (Baker's yeast)",
                    "Arabidopsis thaliana (Mouse-ear cress)", "Drosophila melanogaster (Fruit fly)",
                    "Bacillus subtilis (strain 168)", "Danio rerio (Zebrafish) (Brachydanio rerio)")

STEMS = {
    "function": "Which of the following best describes the function of the protein with this sequence?",
    "location": "Where in the cell (or outside it) is the protein with this sequence found?",
    "ec_class": "To which enzyme class does the protein with this sequence belong?",
    "organism": "From which organism does the protein with this sequence come?",
    "name": "Which protein has this sequence?",
}


@dataclass(frozen=True)
class QuestionOptions:
    n_options: int = 4
    kinds: tuple[str, ...] | None = None
    max_residues: int = 400
    seed: int = 0

    def __post_init__(self):
        if not 2 <= self.n_options <= 6:
            raise ProteinLMError(f"options per question must be 2-6 (ProteinLMBench shape), got {self.n_options}")
        unknown = set(self.kinds or ()) - set(KINDS)
        if unknown:
            raise ProteinLMError(f"unknown question kinds {sorted(unknown)}: use {', '.join(KINDS)}")


def _h(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def first_sentence(text: str) -> str:
    """Up to the first '. ' (UniProt comments are already cleaned of evidence and citations)."""
    text = " ".join(text.split())
    cut = text.find(". ")
    return (text[: cut + 1] if cut > 0 else text).rstrip()


def _location_terms(entry: ProteinEntry) -> list[str]:
    """Main compartment of each SUBCELLULAR LOCATION text ("Mitochondrion inner membrane; Multi-pass
    membrane protein." -> "Mitochondrion inner membrane")."""
    terms = []
    for text in entry.comments.get("SUBCELLULAR LOCATION", ()):
        for part in text.split("."):
            head = part.split(";")[0].strip()
            if head and not head.lower().startswith(("note", "[")) and ":" not in head and head not in terms:
                terms.append(head)
    return terms


def _head(term: str) -> str:
    return term.replace(",", " ").split()[0].lower() if term.strip() else ""


def _genus(organism: str) -> str:
    return organism.split()[0].lower() if organism else ""


def truth(entry: ProteinEntry, kind: str) -> tuple[str, list[str], Callable[[str], bool], str] | None:
    """(answer, other true values, conflicts(candidate) -> bool, evidence) or None if not askable."""
    acc = entry.accession
    if kind == "function":
        texts = entry.comments.get("FUNCTION", ())
        if not texts or not first_sentence(texts[0]):
            return None
        answer = first_sentence(texts[0])
        return answer, [], lambda c: c.lower() == answer.lower(), f"UniProtKB {acc}, FUNCTION comment"
    if kind == "location":
        terms = _location_terms(entry)
        if not terms:
            return None
        heads = {_head(t) for t in terms} | {k.lower().split()[0] for k in entry.keywords}
        return terms[0], terms, lambda c: _head(c) in heads, f"UniProtKB {acc}, SUBCELLULAR LOCATION comment"
    if kind == "ec_class":
        classes = {ec.split(".")[0] for ec in entry.ec_numbers if ec.split(".")[0] in EC_CLASSES}
        if len(classes) != 1:  # no EC number, or several classes: no single right answer
            return None
        answer = EC_CLASSES[classes.pop()]
        return answer, [], lambda c: c == answer, f"UniProtKB {acc}, EC {', '.join(entry.ec_numbers)}"
    if kind == "organism":
        if not entry.organism:
            return None
        genus = _genus(entry.organism)
        return entry.organism, [], lambda c: _genus(c) == genus, f"UniProtKB {acc}, organism (OS)"
    if kind == "name":
        if not entry.recommended_name:
            return None
        names = {n.lower() for n in (entry.recommended_name, *entry.alternative_names)}
        return entry.recommended_name, [], lambda c: c.lower() in names, f"UniProtKB {acc}, recommended name (DE)"
    raise ProteinLMError(f"unknown question kind {kind!r}")


def _pool(entries: list[ProteinEntry], kind: str) -> list[str]:
    values: list[str] = []
    for e in entries:
        t = truth(e, kind)
        if t:
            values += [t[0], *t[1]]
    values += {"location": list(COMMON_LOCATIONS), "organism": list(COMMON_ORGANISMS),
               "ec_class": list(EC_CLASSES.values())}.get(kind, [])
    return sorted(set(values))


def sequence_block(sequence: str, max_residues: int) -> str:
    shown = sequence[:max_residues]
    block = "<seq> " + " ".join(shown) + " </seq>"
    if len(sequence) > max_residues:
        block += f"\n(the first {max_residues} of {len(sequence)} residues are shown)"
    return block


def make_question(entry: ProteinEntry, kind: str, pool: list[str], opts: QuestionOptions) -> dict | None:
    told = truth(entry, kind)
    if told is None:
        return None
    answer, _, conflicts, evidence = told
    acc = entry.accession
    candidates = sorted({c for c in pool if not conflicts(c) and c != answer}, key=lambda c: _h(opts.seed, kind, acc, c))
    if len(candidates) < opts.n_options - 1:
        return None
    options = candidates[: opts.n_options - 1]
    position = int(_h(opts.seed, "position", kind, acc), 16) % opts.n_options
    options.insert(position, answer)
    return {
        "id": f"uniprot-{kind}-{acc}",
        "category": kind,
        "question": f"{STEMS[kind]}\n{sequence_block(entry.sequence, opts.max_residues)}",
        "options": [f"option {i}: {text}" for i, text in enumerate(options, 1)],
        "answer": f"option {position + 1}",
        "explanation": f"{answer} ({evidence}).",
        "accession": acc,
    }


def make_questions(targets: Iterable[ProteinEntry], all_entries: list[ProteinEntry], opts: QuestionOptions) -> tuple[list[dict], dict]:
    kinds = opts.kinds or KINDS
    pools = {k: _pool(all_entries, k) for k in kinds}
    out, by_kind, skipped, proteins = [], Counter(), Counter(), 0
    for entry in sorted(targets, key=lambda e: e.accession):
        proteins += 1
        for kind in kinds:
            q = make_question(entry, kind, pools[kind], opts)
            if q is None:
                skipped[f"{kind}: no annotation or too few distractors"] += 1
            else:
                out.append(q)
                by_kind[kind] += 1
    return out, {"proteins": proteins, "by_kind": dict(by_kind), "skipped": dict(skipped)}


def split_accessions(build: Path, split: str) -> set[str]:
    """Accessions of one split of a Swiss-Prot build, read from its pretraining shards."""
    files = sorted((Path(build) / "pretrain" / "swissprot").glob(f"{split}-*.jsonl.gz"))
    if not files:
        raise ProteinLMError(f"{build}: no pretrain/swissprot/{split}-*.jsonl.gz (is this a `build uniprot` output?)")
    accs = set()
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            accs.update(json.loads(line)["accession"] for line in fh if line.strip())
    return accs


def questions_from_build(build: str | Path, *, inputs: list[str], split: str, opts: QuestionOptions) -> tuple[list[dict], dict]:
    build = Path(build)
    if not inputs:
        manifest = build / "manifest.json"
        if not manifest.is_file():
            raise ProteinLMError(f"{build}: no manifest.json; pass the Swiss-Prot files with --input")
        inputs = json.loads(manifest.read_text())["options"]["inputs"]
    wanted = split_accessions(build, split)
    entries = [e for path in inputs for e in parse(path)]
    targets = [e for e in entries if e.accession in wanted]
    missing = wanted - {e.accession for e in targets}
    if missing:
        raise ProteinLMError(f"{len(missing)} {split} proteins of {build} are not in the inputs (e.g. {sorted(missing)[0]})")
    questions, stats = make_questions(targets, entries, opts)
    return questions, stats
