"""Enzyme Chain-of-Thought examples: EC mapping from entry / ENZYME DR / SIFTS, transfers, the
per-EC cap and its determinism, the text of the steps, and `seq_to_text`."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from proteinlm.dataset.seqtext import seq_to_text
from proteinlm.dataset.uniprot import ecot
from proteinlm.dataset.uniprot.ecot import (
    PARAPHRASES,
    ec_index,
    ecot_examples,
    load_sifts_enzyme,
    paraphrase_index,
    transfer_index,
)
from proteinlm.errors import SourceError
from proteinlm.records import ProteinEntry
from proteinlm.sources import enzyme

FIXTURES = Path(__file__).parent / "fixtures" / "enzyme"
REAL = Path(__file__).parents[1].parent / "shared/data/enzyme"

LIPL_HUMAN = (  # stands in for P06858 (475 residues); the mapping comes from its accession
    "MESKALLVLTLAVWLQSLTASRGGVAAADQRRDFIDIESKFALRTPEDTAEDTCHLIPGVAESVATCHFNHSSKTFMVIHGWTVTGMYESWVPKLVA"
    "ALYKREPDSNVIVVDWLSRAQEHYPVSAGYTKLVGQDVARFINWMEEEFNYPLDNVHLLGYSLGAHAAGIAGSLTNKKVNRITGLDPAGPNFEYAEAP"
    "SRLSPDDADFVDVLHTFTRGSPGRSIGIQKPVGHVDIYPNGGTFQPGCNIGEAIRVIAERGLGDVDQLVKCSHERSIHLFIDSLLNEENPSKAYRCS"
    "SKEAFEKGLCLSCRKNRCNNLGYEINKVRAKRSSKMYLKTRSQMPYKVFHYQVKIHFSGTESETHTNQAFEISLYGTVAESENIPFTLPEVSTNKTYS"
    "FLIYTEVDIGELLMLKLKWKSDSYFSWSDWWSSPGFAIQKIRVKAGETQKKVIFCSREKVSHLQKGKAPAVFVKCHDKSLNKKSG"
)


def entry(acc: str, seq: str = "MKTAYIAKQR", **kw) -> ProteinEntry:
    return ProteinEntry(accessions=(acc, *kw.pop("secondary", ())), entry_name=f"{acc}_TEST", sequence=seq, **kw)


@pytest.fixture(scope="module")
def sample():
    enzymes = list(enzyme.parse(FIXTURES / "sample.dat"))
    active, dr = ec_index(enzymes)
    return enzymes, active, dr, transfer_index(enzymes)


def _real_enzymes():
    paths = [REAL / "lipoprotein.txt", REAL / "proline.txt"]
    if not all(p.exists() for p in paths):
        pytest.skip(f"real ENZYME files missing under {REAL}")
    return [e for p in paths for e in enzyme.parse(p)]


# ---------------------------------------------------------------- seq_to_text


def test_seq_to_text_is_exact():
    assert seq_to_text("MKT") == "<seq> M K T </seq>"
    assert seq_to_text("MKT", open_tag="<protein>", close_tag="</protein>") == "<protein> M K T </protein>"
    assert seq_to_text("MKT", sep="") == "<seq>MKT</seq>"
    assert seq_to_text("mk") == "<seq> m k </seq>"  # written as given, no normalisation


# ---------------------------------------------------------------- indexes


def test_ec_index_keeps_active_entries_and_dr(sample):
    _, active, dr, transfers = sample
    assert set(active) == {"1.1.1.1", "1.1.1.198", "2.7.11.1", "3.5.1.2"}  # no transferred/deleted
    assert dr["P07327"] == {"1.1.1.1"}
    assert dr["Q9XXA1"] == {"1.1.1.198", "2.7.11.1"}
    assert transfers == {"1.1.1.74": ("1.1.1.198", "1.1.1.227", "1.1.1.228")}


SIFTS_CSV = (
    "# 2024/06/02 - 10:31 | PDB: 22.24 | UniProt: 2024.03\n"
    "PDB,CHAIN,ACCESSION,EC_NUMBER\n"
    "101m,A,P02185,?\n"
    "1a4y,A,P0A6W0,3.5.1.2\n"
    "1a4y,B,P0A6W0,3.5.1.2\n"
    "2abc,A,Q11111,3.2.1.-\n"
    "3xyz,A,Q22222,1.1.1.1\n"
    "3xyz,B,Q22222,2.7.11.1\n"
)


@pytest.mark.parametrize("compress", [False, True])
def test_load_sifts_enzyme(tmp_path, compress):
    path = tmp_path / "pdb_chain_enzyme.csv"
    path.write_bytes(gzip.compress(SIFTS_CSV.encode()) if compress else SIFTS_CSV.encode())
    assert load_sifts_enzyme(path) == {"P0A6W0": {"3.5.1.2"}, "Q22222": {"1.1.1.1", "2.7.11.1"}}


def test_load_sifts_enzyme_errors(tmp_path):
    with pytest.raises(SourceError, match="missing.csv"):
        load_sifts_enzyme(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("# comment\nPDB,CHAIN,UNIPROT\n1abc,A,P12345\n")
    with pytest.raises(SourceError, match="bad.csv.*ACCESSION"):
        load_sifts_enzyme(bad)
    truncated = tmp_path / "t.csv.gz"
    truncated.write_bytes(gzip.compress((SIFTS_CSV * 200).encode())[:-30])
    with pytest.raises(SourceError, match="t.csv.gz"):
        load_sifts_enzyme(truncated)


# ---------------------------------------------------------------- mapping


def test_mapping_from_each_source(sample):
    _, active, dr, _ = sample
    sifts = {"Q33333": {"3.5.1.2"}}
    entries = [
        entry("Q00001", ec_numbers=("1.1.1.1",)),  # the entry's own EC
        entry("P0A6W0"),  # ENZYME DR (GLSA1_ECOLI → 3.5.1.2)
        entry("Q33333"),  # SIFTS only
        entry("Q44444"),  # nothing knows it
        entry("Q55555", ec_numbers=("3.1.1.-", "9.9.9.9")),  # partial / unknown ECs
    ]
    got = {(i.meta["accession"], i.meta["ec"]): i.meta["mapping"] for i in ecot_examples(entries, active, dr, sifts)}
    assert got == {
        ("Q00001", "1.1.1.1"): "entry",
        ("P0A6W0", "3.5.1.2"): "enzyme_dr",
        ("Q33333", "3.5.1.2"): "sifts",
    }


def test_source_priority_and_secondary_accessions(sample):
    _, active, dr, _ = sample
    sifts = {"P07327": {"1.1.1.1"}, "OLD001": {"3.5.1.2"}}
    # P07327 is in ENZYME's DR for 1.1.1.1 and in SIFTS: one example, recorded as "entry" first.
    e1 = entry("P07327", ec_numbers=("1.1.1.1",))
    e2 = entry("P99999", secondary=("P0A6W0", "OLD001"))  # merged entry: DR/SIFTS use old accessions
    out = list(ecot_examples([e1, e2], active, dr, sifts))
    assert [(i.id, i.meta["mapping"]) for i in out] == [
        ("ecot-P07327-1.1.1.1", "entry"),
        ("ecot-P99999-3.5.1.2", "enzyme_dr"),
    ]


def test_several_ecs_give_one_example_each_and_transfers_are_followed(sample):
    enzymes, active, dr, transfers = sample
    e = entry("Q77777", ec_numbers=("1.1.1.74", "2.7.11.1", "1.1.1.75", "3.5.1.2"))
    out = list(ecot_examples([e], active, dr, transfers=transfers))
    # 1.1.1.74 → 1.1.1.198 (known) + 1.1.1.227/1.1.1.228 (not in the file: dropped); 1.1.1.75 deleted.
    assert [i.meta["ec"] for i in out] == ["1.1.1.198", "2.7.11.1", "3.5.1.2"]
    assert out[0].meta["transferred_from"] == "1.1.1.74"
    assert "transferred_from" not in out[1].meta
    # Without the transfer index, the transferred EC is simply unknown.
    assert [i.meta["ec"] for i in ecot_examples([e], active, dr)] == ["2.7.11.1", "3.5.1.2"]
    # A full {ec: Enzyme} dict (transferred/deleted entries included) is followed on its own.
    full = {x.ec: x for x in enzymes}
    assert [i.id for i in ecot_examples([e], full, dr)] == [i.id for i in out]


def test_direct_ec_beats_transferred(sample):
    _, active, dr, transfers = sample
    e = entry("Q88888", ec_numbers=("1.1.1.74", "1.1.1.198"))
    (only,) = ecot_examples([e], active, dr, transfers=transfers)
    assert only.meta == {"accession": "Q88888", "ec": "1.1.1.198", "mapping": "entry"}


def test_transfer_chain_and_cycle(sample):
    _, active, dr, _ = sample
    transfers = {"9.1.1.1": ("9.1.1.2",), "9.1.1.2": ("3.5.1.2", "9.1.1.1")}  # chain with a loop back
    (only,) = ecot_examples([entry("Q12121", ec_numbers=("9.1.1.1",))], active, dr, transfers=transfers)
    assert only.meta["ec"] == "3.5.1.2" and only.meta["transferred_from"] == "9.1.1.1"


def test_unreviewed_entries_are_skipped(sample):
    _, active, dr, _ = sample
    e = entry("Q00002", ec_numbers=("1.1.1.1",), reviewed=False)
    assert list(ecot_examples([e], active, dr)) == []
    assert len(list(ecot_examples([e], active, dr, reviewed_only=False))) == 1


# ---------------------------------------------------------------- cap and determinism


def _many(n: int, ec: str = "3.5.1.2") -> list[ProteinEntry]:
    return [entry(f"A{i:05d}", ec_numbers=(ec,)) for i in range(n)]


def _view(out):
    return [(i.id, i.instruction, i.input, i.output, i.task, i.meta) for i in out]


def test_per_ec_cap_is_deterministic_and_order_free(sample):
    _, active, dr, _ = sample
    entries = _many(60) + _many(7, "1.1.1.1")
    base = list(ecot_examples(entries, active, dr, per_ec=5))
    assert [i.meta["ec"] for i in base] == ["1.1.1.1"] * 5 + ["3.5.1.2"] * 5
    for s in range(5):
        shuffled = entries[:]
        random.Random(s).shuffle(shuffled)
        assert _view(ecot_examples(shuffled, active, dr, per_ec=5)) == _view(base)
        assert _view(ecot_examples(shuffled + entries, active, dr, per_ec=5)) == _view(base)  # duplicates
    # Sorted by EC then accession.
    keys = [(i.meta["ec"], i.meta["accession"]) for i in base]
    assert keys == sorted(keys)
    # The kept ones are the smallest-hash ones: a larger cap keeps a superset.
    small = {i.id for i in base}
    assert small < {i.id for i in ecot_examples(entries, active, dr, per_ec=10)}
    # The default cap is the published 20; another seed samples other entries.
    assert len(list(ecot_examples(_many(60), active, dr))) == 20
    other = {i.id for i in ecot_examples(entries, active, dr, per_ec=5, seed=1)}
    assert other != small
    assert len(list(ecot_examples(entries, active, dr, per_ec=None))) == 67
    with pytest.raises(ValueError):
        list(ecot_examples(entries, active, dr, per_ec=0))


def test_paraphrase_choice_is_stable_and_varied():
    assert len(PARAPHRASES) >= 4
    # Computed once with blake2b; Python's salted hash() would change from process to process.
    assert paraphrase_index("P06858") == 2
    assert paraphrase_index("P06858", seed=1) == 4
    assert paraphrase_index("Q96EM0") == 3
    code = "from proteinlm.dataset.uniprot.ecot import paraphrase_index as p; print(p('P06858'), p('Q96EM0'))"
    for hashseed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert done.stdout.split() == ["2", "3"]
    assert len({paraphrase_index(f"A{i:05d}") for i in range(50)}) >= 4


# ---------------------------------------------------------------- text


def _check_text(ex, enz, seq):
    assert ex.task == "ecot"
    assert ex.id == f"ecot-{ex.meta['accession']}-{enz.ec}"
    assert ex.instruction in PARAPHRASES
    assert ex.input == seq_to_text(seq)
    assert enz.accepted_name in ex.output
    for r in enz.reactions:
        assert r in ex.output
    lines = ex.output.split("\n")
    assert [ln[:3] for ln in lines] == ["1. ", "2. ", "3. ", "4. "]
    assert all(ln.strip() for ln in lines)
    assert "{ECO:" not in ex.output and "PubMed:" not in ex.output


def test_real_enzyme_files_and_step_text():
    enzymes = _real_enzymes()
    active, dr = ec_index(enzymes)
    assert dr["P06858"] == {"3.1.1.34"} and dr["Q96EM0"] == {"5.1.1.4"}
    lipl = entry(
        "P06858",
        LIPL_HUMAN,
        organism="Homo sapiens (Human)",
        recommended_name="Lipoprotein lipase",
        comments={"FUNCTION": (
            "Key enzyme in triglyceride metabolism {ECO:0000269|PubMed:2670931}. Catalyzes the "
            "hydrolysis of triglycerides from circulating chylomicrons (PubMed:11342582, PubMed:27929370).",
        )},
    )
    prcm = entry("Q96EM0", "MRSPSLFPSPL", organism="Homo sapiens (Human)")  # no FUNCTION comment
    out = {i.meta["ec"]: i for i in ecot_examples([prcm, lipl], active, dr)}
    assert set(out) == {"3.1.1.34", "5.1.1.4"}
    lip, pro = out["3.1.1.34"], out["5.1.1.4"]
    _check_text(lip, active["3.1.1.34"], LIPL_HUMAN)
    _check_text(pro, active["5.1.1.4"], "MRSPSLFPSPL")
    assert lip.meta == {"accession": "P06858", "ec": "3.1.1.34", "mapping": "enzyme_dr"}
    assert lip.instruction == PARAPHRASES[2]
    step1, step2, step3, step4 = lip.output.split("\n")
    assert "475 amino acids" in step1 and "Homo sapiens (Human)" in step1 and "Lipoprotein lipase" in step1
    assert "Key enzyme in triglyceride metabolism. Catalyzes the hydrolysis" in step1
    assert "circulating chylomicrons." in step1
    assert "EC 3.1.1.34" in step2 and "Hydrolases" in step2
    assert "Clearing factor lipase; Diacylglycerol lipase; Diglyceride lipase" in step2
    assert step4.startswith("4. Conclusion:") and "Lipoprotein lipase (EC 3.1.1.34)" in step4
    # No FUNCTION comment: the EC class stands in for the function.
    assert "enzyme of class 5 (Isomerases)" in pro.output.split("\n")[0]
    assert "L-proline = D-proline" in pro.output


def test_multi_reaction_alt_names_and_cofactors(sample):
    _, active, dr, _ = sample
    (ex,) = ecot_examples([entry("P17612")], active, dr)  # KAPCA_HUMAN via DR
    enz = active["2.7.11.1"]
    _check_text(ex, enz, "MKTAYIAKQR")
    step2, step3 = ex.output.split("\n")[1:3]
    assert "(also known as: A-kinase; cAMP-dependent protein kinase catalytic subunit; Protein kinase A)" in step2
    assert "STK32" not in step2  # at most three alternative names
    assert "2 reactions: (1) ATP + L-seryl-[protein]" in step3 and "; (2) ATP + L-threonyl" in step3
    assert "Cofactors: Mg(2+); Mn(2+)." in step3
    assert "Transferases" in step2


def test_clean_removes_evidence_and_citations():
    text = "Binds X {ECO:0000250|UniProtKB:P1} (PubMed:1, PubMed:2). Also Y (By similarity; PubMed:3).\nZ PubMed:4."
    cleaned = ecot._clean(text)
    assert cleaned == "Binds X. Also Y. Z."


def test_candidates_kept_on_disk_give_the_same_examples(sample, tmp_path):
    from proteinlm.dataset.uniprot.candidate_store import DiskStore

    _, active, dr, _ = sample
    entries = _many(60) + _many(7, "1.1.1.1")
    random.Random(0).shuffle(entries)
    with DiskStore(tmp_path / "scratch" / "candidates.pickle") as store:
        on_disk = _view(ecot_examples(entries, active, dr, per_ec=5, store=store))
        assert store.path.stat().st_size > 0
    assert on_disk == _view(ecot_examples(entries, active, dr, per_ec=5))
    assert not (tmp_path / "scratch" / "candidates.pickle").exists()  # removed on close


def test_slim_candidates_equal_dataclasses_replace():
    """candidate() copies an entry's fields into a new record instead of dataclasses.replace: the
    same record (fields, order, source, pickling, frozen), and the entry itself is untouched."""
    import dataclasses
    import pickle

    from proteinlm.sources.uniprot import parse

    files = [Path(__file__).parent / "fixtures" / "uniprot" / "modern.dat"]
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "swissprot"
    files += sorted(shared.glob("*.txt")) if shared.is_dir() else []
    entries = [e for f in files for e in parse(f)]
    assert entries
    for e in entries:
        before = pickle.dumps(e)
        slim = ecot._slim(e)
        function = e.comments.get("FUNCTION")
        want = dataclasses.replace(e, comments={"FUNCTION": function} if function else {}, alternative_names=(),
                                   gene_names=(), keywords=(), go_terms=(), pubmed_ids=(), pdb_ids=())  # fmt: skip
        assert slim == want and slim.source == want.source and list(vars(slim)) == list(vars(want))
        assert pickle.loads(pickle.dumps(slim)) == want and pickle.dumps(e) == before
        with pytest.raises(dataclasses.FrozenInstanceError):
            slim.entry_name = "x"
