"""What every build does around its work: claim the output directory for one set of options, and
refuse to call a build that read nothing a success.

`.state/options.json` exists so that a killed build resumes only with the options it was started
with. It is written once the arguments are valid (builders call `claim` after their argument
checks), and it refuses other options only while the directory holds recorded work: a build that
stopped before recording anything, or that read nothing and was released, leaves nothing that
could refuse the corrected command.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from proteinlm.errors import ProteinLMError, SourceError

SHOWN_SKIPS = 3  # skipped records quoted in an error; the rest are counted
# what a build's input files must hold, by builder and subset
EXPECTED = {
    "uniprot": "UniProt entry (flat-file ID ... // entries, XML <entry> elements or TSV rows)",
    "enzyme": "ENZYME entry (ID <EC number> ... //)",
    "pubmed": "PubMed citation (<PubmedArticle> or <DeleteCitation>)",
    "seq_in_text": "PubMed citation (<PubmedArticle> or <DeleteCitation>)",
    "pmc": "PMC article (JATS <article>)",
    "bilingual": "zh/en pair (JSONL {zh, en} or TSV id, zh, en)",
}


def claim(out: Path, fingerprint: dict, recorded: tuple[str, ...]) -> None:
    """Write OUT/.state/options.json, or refuse when OUT holds work (files matching the `recorded`
    globs under .state/) of a build made with other options."""
    state = out / ".state"
    state.mkdir(parents=True, exist_ok=True)
    fp = state / "options.json"
    want = json.dumps(fingerprint, sort_keys=True)
    same = fp.exists() and fp.read_text() == want
    if fp.exists() and not same and any(next(state.glob(g), None) for g in recorded):
        raise ProteinLMError(f"{out} holds a build made with other options ({fp}); use a new --out directory or delete it")
    if not same:
        # datatrove's completion markers of a build that recorded nothing (released, or made with
        # other options and stopped before its first record) would make it skip this build's tasks
        shutil.rmtree(state / "datatrove", ignore_errors=True)
    fp.write_text(want)


def release(out: Path, recorded: tuple[str, ...]) -> None:
    """Forget a build that produced nothing: its options and records go, so that the corrected
    command starts afresh in the same directory."""
    state = out / ".state"
    for pattern in ("options.json", *recorded):
        for path in state.glob(pattern):
            if path.is_file():
                path.unlink()


def skips_of(path: str, skipped: list[str]) -> list[str]:
    """The skipped-record messages that name `path` (they start with 'path:line: ...')."""
    return [s for s in skipped if s.startswith(f"{path}:") or s.startswith(f"{path} ")]


def quote_skips(skips: list[str]) -> str:
    shown = "; ".join(skips[:SHOWN_SKIPS])
    more = f"; and {len(skips) - SHOWN_SKIPS} more" if len(skips) > SHOWN_SKIPS else ""
    return f" Skipped: {shown}{more}." if skips else ""


def require_records(read: dict[str, int], expected: str, skipped: list[str], flag: str = "--allow-empty") -> None:
    """SourceError naming each file of `read` (file -> records of the expected kind) that gave none."""
    empty = [path for path, n in read.items() if n == 0]
    if not empty:
        return
    lines = [f"{path}: no {expected} read.{quote_skips(skips_of(path, skipped))}" for path in empty]
    raise SourceError("\n".join(lines) + f"\n(pass {flag} if an input without records is expected)")


def check_output(out: Path, recorded: tuple[str, ...], read: dict[str, int], expected: str, skipped: list[str], *,
                 built: int, why) -> None:
    """Stop a build where an input gave no record (`read`: input -> records of the `expected` kind)
    or that built nothing (`why()` says why). A build that built nothing recorded nothing worth
    resuming: the directory is released first, so that the corrected command may use it."""
    if not built:
        release(out, recorded)
    require_records(read, expected, skipped)
    if not built:
        raise SourceError(why() + "\n(pass --allow-empty if an empty build is expected)")


def nothing_built(subset: str, inputs: list[str], counts: dict[str, int], steps: list[dict]) -> str:
    """Why a literature build wrote no document: what its inputs held and which step dropped what."""
    held = ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "no records"
    dropped = "; ".join(f"{s['name']} dropped {s['dropped']} ({', '.join(f'{r} {n}' for r, n in s['reasons'].items())})"
                        for s in steps if s["dropped"])
    hint = ""
    if subset == "seq_in_text" and counts.get("articles") and not counts.get("with_mentions"):
        hint = (f" None of the {counts['articles']} abstracts mentions a protein name of the index built from --uniprot"
                " (names shared by proteins with different sequences, and common words, are left out).")
    elif subset == "pmc" and counts.get("not_cited_by_pdb"):
        hint = " Articles not cited by a PDB entry are left out (--all-articles keeps them)."
    return f"{subset}: no document built from {', '.join(inputs)}: read {held}" + (f"; {dropped}" if dropped else "") + "." + hint
