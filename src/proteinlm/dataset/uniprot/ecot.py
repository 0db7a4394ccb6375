"""Enzyme Chain-of-Thought (ECoT) SFT examples: sequence → function → accepted name → reaction.

Follows the ECoT part of ProteinLMDataset: for every Swiss-Prot entry whose EC number ENZYME
knows, one example that reasons in numbered steps from the sequence to the enzyme's function, its
ENZYME (IUBMB) accepted name and the reaction(s) it catalyses; at most `per_ec` examples per EC
(20 in the published set) so that large families do not swamp rare activities.

EC numbers come from three places, tried in this order (the first one that gives an EC is recorded
as `meta["mapping"]`): the entry's own `ec_numbers` ("entry"), ENZYME's DR cross-references
("enzyme_dr") and the SIFTS `pdb_chain_enzyme.csv` mapping ("sifts"). An EC that ENZYME lists as
transferred is replaced by its target ECs that are active (following chains of transfers), with
`meta["transferred_from"]` set; deleted and unknown ECs are dropped.

Determinism: the paraphrase and the per-EC sample use blake2b of (seed, ec, accession), never
Python's salted `hash()`, so two processes (or two input orders) give the same examples.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import heapq
import io
import re
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from proteinlm.dataset.seqtext import seq_to_text
from proteinlm.dataset.uniprot.candidate_store import MemoryStore
from proteinlm.errors import SourceError
from proteinlm.records import Enzyme, Instruction, ProteinEntry
from proteinlm.sources.enzyme import EC_RE

__all__ = [
    "EC_CLASSES",
    "PARAPHRASES",
    "candidate",
    "ec_index",
    "ecot_examples",
    "ecot_output",
    "load_sifts_enzyme",
    "paraphrase_index",
    "transfer_index",
]

TASK = "ecot"
MAPPINGS = ("entry", "enzyme_dr", "sifts")  # priority order
MAX_ALT_NAMES = 3

EC_CLASSES = {
    "1": "Oxidoreductases",
    "2": "Transferases",
    "3": "Hydrolases",
    "4": "Lyases",
    "5": "Isomerases",
    "6": "Ligases",
    "7": "Translocases",
}

PARAPHRASES = (
    "Reason step by step from this protein sequence to its function, the accepted (IUBMB/ENZYME) "
    "name of the enzyme and the reaction it catalyses.",
    "Think step by step: what does this protein do, what is its accepted enzyme name according to "
    "ENZYME/IUBMB, and which reaction does it catalyse?",
    "Analyse the amino-acid sequence below step by step: describe the protein and its function, "
    "give its EC number and IUBMB accepted name, then state the reaction it catalyses.",
    "Given the protein sequence, work out step by step which enzyme it is: start from its function, "
    "then name the enzyme with its ENZYME (IUBMB) accepted name and finish with the catalysed reaction.",
    "Use chain-of-thought reasoning to go from this sequence to the enzyme's function, its official "
    "ENZYME name and the chemical reaction it carries out.",
    "Step by step, infer the enzymatic function of the following protein, its accepted name in the "
    "ENZYME nomenclature and the reaction(s) it catalyses.",
)

# Swiss-Prot text should already be clean, but a stray evidence tag or citation must never reach
# a training example, so every step is scrubbed again.
_ECO = re.compile(r"\s*\{ECO:[^}]*\}")
_PUBMED_PAREN = re.compile(r"\s*\((?:[^()]*?(?:PubMed|PMID):[^()]*)\)")
_PUBMED_BARE = re.compile(r"\s*(?:PubMed|PMID):\s*\d*[,;]?")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:])")
_EC_SPLIT = re.compile(r"[\s,;]+")


def _stable_int(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def paraphrase_index(accession: str, seed: int = 0) -> int:
    """Which of PARAPHRASES an accession gets: stable across processes and Python versions."""
    return _stable_int("paraphrase", seed, accession) % len(PARAPHRASES)


def _ec_key(ec: str) -> tuple:
    """Numeric EC order (1.1.1.9 before 1.1.1.10); preliminary "n" numbers after the numbered."""
    return tuple((1, int(p[1:])) if p.startswith("n") else (0, int(p)) for p in ec.split("."))


# ---------------------------------------------------------------- inputs


def _open_csv(path: Path) -> io.TextIOBase:
    try:
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise SourceError(f"{path}: cannot open SIFTS file: {exc}") from exc
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def load_sifts_enzyme(path: str | Path) -> dict[str, set[str]]:
    """SIFTS `pdb_chain_enzyme.csv[.gz]` → UniProt accession → complete EC numbers.

    "?", empty and partial ("3.2.1.-") EC values are skipped: ENZYME has no entry for them.
    """
    path = Path(path)
    out: dict[str, set[str]] = defaultdict(set)
    with _open_csv(path) as fh:
        try:
            # The file opens with a "# date | PDB release | UniProt release" line, then the header.
            reader = csv.reader(line for line in fh if not line.startswith("#"))
            header = [h.strip().upper() for h in next(reader, [])]
            try:
                i_acc, i_ec = header.index("ACCESSION"), header.index("EC_NUMBER")
            except ValueError:
                raise SourceError(f"{path}: no ACCESSION/EC_NUMBER columns in header {header}") from None
            for row in reader:
                if len(row) <= max(i_acc, i_ec):
                    continue
                acc = row[i_acc].strip()
                for ec in _EC_SPLIT.split(row[i_ec].strip()):
                    if acc and EC_RE.match(ec):
                        out[acc].add(ec)
        except (EOFError, OSError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
            raise SourceError(f"{path}: unreadable (truncated or corrupt?): {exc}") from exc
    return dict(out)


def ec_index(enzymes: Iterable[Enzyme]) -> tuple[dict[str, Enzyme], dict[str, set[str]]]:
    """(EC → active Enzyme, accession → ECs from ENZYME's DR lines).

    Transferred and deleted entries are left out of both; use `transfer_index` to follow transfers.
    """
    active: dict[str, Enzyme] = {}
    dr: dict[str, set[str]] = defaultdict(set)
    for enz in enzymes:
        if enz.deleted or enz.transferred_to:
            continue
        active[enz.ec] = enz
        for acc, _name in enz.swissprot:
            dr[acc].add(enz.ec)
    return active, dict(dr)


def transfer_index(enzymes: Iterable[Enzyme]) -> dict[str, tuple[str, ...]]:
    """Transferred EC → the ECs it was transferred to (ENZYME's "Transferred entry:" lines)."""
    return {e.ec: e.transferred_to for e in enzymes if e.transferred_to}


def _resolve(ec: str, active: Mapping[str, Enzyme], transfers: Mapping[str, tuple[str, ...]]):
    """Active ECs an EC stands for: itself, or the active ends of its transfer chain(s)."""
    if ec in active:
        return [(ec, None)]
    out, seen, todo = [], {ec}, list(transfers.get(ec, ()))
    while todo:  # chains exist (A → B → C); `seen` guards against a cycle in a broken file
        t = todo.pop(0)
        if t in seen:
            continue
        seen.add(t)
        if t in active:
            out.append((t, ec))
        else:
            todo.extend(transfers.get(t, ()))
    return out


def _mappings(entry, active, transfers, dr_map, sifts) -> dict[str, tuple[str, str | None]]:
    """EC → (mapping source, transferred_from) for one entry; direct ECs beat transferred ones."""
    accs = entry.accessions  # secondary accessions too: DR/SIFTS may lag behind merges
    sources = (
        entry.ec_numbers,
        sorted({ec for a in accs for ec in dr_map.get(a, ())}),
        sorted({ec for a in accs for ec in (sifts or {}).get(a, ())}),
    )
    found: list[tuple[tuple[int, int, str], str, str | None]] = []
    for prio, (name, ecs) in enumerate(zip(MAPPINGS, sources)):
        for ec in ecs:
            for target, via in _resolve(ec.strip(), active, transfers):
                found.append(((prio, via is not None, via or ""), target, name, via))
    best: dict[str, tuple[str, str | None]] = {}
    for _key, target, name, via in sorted(found, key=lambda f: (f[0], f[1])):
        best.setdefault(target, (name, via))
    return best


# ---------------------------------------------------------------- text


def _clean(text: str) -> str:
    text = _ECO.sub("", text)
    text = _PUBMED_PAREN.sub("", text)
    text = _PUBMED_BARE.sub("", text)
    text = " ".join(text.split())  # one line: no newline may split a step
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip()


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _ec_class(ec: str) -> str:
    digit = ec.split(".")[0]
    return f"class {digit} ({EC_CLASSES[digit]})" if digit in EC_CLASSES else f"class {digit}"


def ecot_output(entry: ProteinEntry, enz: Enzyme) -> str:
    """The four reasoning steps, one line each."""
    ec = enz.ec
    what = f"The sequence is a protein of {entry.length} amino acids"
    if entry.organism:
        what += f" from {entry.organism}"
    if entry.recommended_name:
        what += f", named {entry.recommended_name} in UniProtKB"
    function = " ".join(entry.comments.get("FUNCTION", ()))
    if _clean(function):
        step1 = f"{what}. Its function: {_sentence(_clean(function))}"
    else:
        step1 = (
            f"{what}. Its function is not described in the entry, but it is an enzyme of "
            f"{_ec_class(ec)} in the EC hierarchy."
        )
    step2 = f"It is classified as EC {ec}, {_ec_class(ec)}; its ENZYME accepted name is {enz.accepted_name}"
    if enz.alternative_names:
        step2 += f" (also known as: {'; '.join(enz.alternative_names[:MAX_ALT_NAMES])})"
    step2 += "."
    reactions = enz.reactions
    if len(reactions) == 1:
        step3 = f"It catalyses the reaction: {_sentence(reactions[0])}"
    elif reactions:
        listed = "; ".join(f"({i}) {r}" for i, r in enumerate(reactions, 1))
        step3 = f"It catalyses {len(reactions)} reactions: {_sentence(listed)}"
    else:
        step3 = "ENZYME lists no reaction for this activity."
    if enz.cofactors:
        step3 += f" Cofactors: {_sentence('; '.join(enz.cofactors))}"
    if len(reactions) == 1:
        tail = f", which catalyses {_sentence(reactions[0])}"
    elif reactions:
        tail = f", which catalyses the {len(reactions)} reactions above."
    else:
        tail = "."
    step4 = f"Conclusion: this sequence encodes {enz.accepted_name} (EC {ec}){tail}"
    steps = (step1, step2, step3, step4)
    return "\n".join(f"{i}. {_clean(s)}" for i, s in enumerate(steps, 1))


def _instruction(entry: ProteinEntry, enz: Enzyme, mapping: str, via: str | None, seed: int) -> Instruction:
    meta = {"accession": entry.accession, "ec": enz.ec, "mapping": mapping}
    if via:
        meta["transferred_from"] = via
    return Instruction(
        id=f"ecot-{entry.accession}-{enz.ec}",
        instruction=PARAPHRASES[paraphrase_index(entry.accession, seed)],
        input=seq_to_text(entry.sequence),
        output=ecot_output(entry, enz),
        task=TASK,
        meta=meta,
    )


# ---------------------------------------------------------------- builder


def candidate(entry: ProteinEntry, mapped: set[str] | frozenset[str] = frozenset()) -> ProteinEntry | None:
    """The entry, slimmed as `ecot_examples` keeps it, if it can give an example: reviewed, with
    an EC number of its own or an accession in `mapped` (the accessions ENZYME's and SIFTS'
    mappings name); else None. `ecot_examples` over the candidates alone gives the same examples
    as over all entries, so build workers send only these back."""
    if not entry.reviewed or not (entry.ec_numbers or any(a in mapped for a in entry.accessions)):
        return None
    return _slim(entry)


def _slim(entry: ProteinEntry) -> ProteinEntry:
    """The entry with only what the steps use: up to #ECs x per_ec entries wait in memory until the
    end (~130k for Swiss-Prot), so GO terms, keywords, citations and other comments are dropped."""
    function = entry.comments.get("FUNCTION")
    # dataclasses.replace without its __init__ (~12 us a candidate, a third of them entries): the
    # fields copied into a new record's __dict__, as copy and pickle make records
    slim = object.__new__(ProteinEntry)
    slim.__dict__.update(entry.__dict__)
    slim.__dict__.update(
        comments={"FUNCTION": function} if function else {},
        alternative_names=(),
        gene_names=(),
        keywords=(),
        go_terms=(),
        pubmed_ids=(),
        pdb_ids=(),
    )
    return slim


def ecot_examples(
    entries: Iterable[ProteinEntry],
    enzymes: Mapping[str, Enzyme],
    dr_map: Mapping[str, set[str]],
    sifts: Mapping[str, set[str]] | None = None,
    *,
    transfers: Mapping[str, tuple[str, ...]] | None = None,
    per_ec: int | None = 20,
    seed: int = 0,
    reviewed_only: bool = True,
    store=None,
) -> Iterator[Instruction]:
    """One ECoT example per (entry, EC known to ENZYME), at most `per_ec` per EC, sorted by EC then
    accession.

    `enzymes` is normally `ec_index(...)[0]`; transferred entries are followed through `transfers`
    (`transfer_index(...)`) or, if `enzymes` itself holds transferred/deleted entries (e.g.
    `{e.ec: e for e in enzyme.parse(path)}`), through those. When an EC has more than `per_ec`
    candidates, the kept ones are those with the smallest blake2b(seed, ec, accession): a bounded
    heap per EC, so memory is O(#ECs × per_ec) and the result does not depend on input order.
    Examples are emitted after the last entry has been read. `per_ec=None` keeps every candidate.
    `store` (`candidate_store.DiskStore`) keeps the kept entries out of memory until then.
    """
    if per_ec is not None and per_ec < 1:
        raise ValueError(f"per_ec must be >= 1 or None, got {per_ec}")
    active = {ec: e for ec, e in enzymes.items() if not (e.deleted or e.transferred_to)}
    moved = dict(transfers or {})
    for ec, e in enzymes.items():
        if e.transferred_to:
            moved.setdefault(ec, e.transferred_to)
    # Per EC: a heap whose top is the *worst* kept candidate (largest hash; ties broken by
    # accession), and the payloads of the kept ones, keyed by accession (dedupes repeated entries).
    heaps: dict[str, list[tuple[int, str]]] = defaultdict(list)
    kept: dict[str, dict[str, tuple[object, str, str | None]]] = defaultdict(dict)  # (store key, mapping, via)
    store = store or MemoryStore()
    for entry in entries:
        if reviewed_only and not entry.reviewed:
            continue
        acc, key = entry.accession, None
        for ec, (mapping, via) in _mappings(entry, active, moved, dr_map, sifts).items():
            if acc in kept[ec]:
                continue
            item = (-_stable_int(seed, ec, acc), acc)
            heap = heaps[ec]
            if per_ec is None or len(heap) < per_ec:
                heapq.heappush(heap, item)
            elif item > heap[0]:  # better (smaller hash) than the worst kept one
                evicted = heapq.heapreplace(heap, item)
                del kept[ec][evicted[1]]
            else:
                continue
            if key is None:
                key = store.put(_slim(entry))
            kept[ec][acc] = (key, mapping, via)
    for ec in sorted(kept, key=_ec_key):
        for acc in sorted(kept[ec]):
            key, mapping, via = kept[ec][acc]
            yield _instruction(store.get(key), active[ec], mapping, via, seed)
