"""ExPASy ENZYME parser: real entries checked against Biopython, hand-written fixtures in the
enzyme.dat format for the cases the real files do not cover (header, numbered reactions, transfers,
deletions, malformed entries, gzip)."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest

from proteinlm.errors import RecordError, SourceError
from proteinlm.records import Enzyme
from proteinlm.sources import enzyme

FIXTURES = Path(__file__).parent / "fixtures" / "enzyme"
SAMPLE = FIXTURES / "sample.dat"
MALFORMED = FIXTURES / "malformed.dat"
REAL = Path(__file__).parents[1].parent / "shared/data/enzyme"


def _real(name: str) -> Path:
    path = REAL / name
    if not path.exists():
        pytest.skip(f"real ENZYME file missing: {path}")
    return path


def _squash(text: str) -> str:
    """Whitespace-free text: Biopython joins wrapped DE/CA lines without a space, we add one."""
    return re.sub(r"\s+", "", text)


def _ca_text(e: Enzyme) -> str:
    """Our reactions written back the way the CA block reads (numbered when there are several)."""
    if len(e.reactions) > 1:
        return "".join(f"({i}) {r}." for i, r in enumerate(e.reactions, 1))
    return "".join(f"{r}." for r in e.reactions)


def _assert_matches_biopython(path: Path) -> list[Enzyme]:
    Bio = pytest.importorskip("Bio.ExPASy.Enzyme")
    with open(path) as fh:
        theirs = list(Bio.parse(fh))
    ours = list(enzyme.parse(path))
    assert [e.ec for e in ours] == [r["ID"] for r in theirs]
    for e, r in zip(ours, theirs):
        assert _squash(e.accepted_name + ".") == _squash(r["DE"])
        assert [_squash(n + ".") for n in e.alternative_names] == [_squash(a) for a in r["AN"]]
        assert _squash(_ca_text(e)) == _squash(r["CA"])
        assert _squash("; ".join(e.cofactors) + ("." if e.cofactors else "")) == _squash(r["CF"])
        assert [_squash(c) for c in e.comments] == [_squash(c) for c in r["CC"]]
        assert [list(p) for p in e.swissprot] == r["DR"]
    return ours


def test_real_lipoprotein_lipase_matches_biopython():
    (e,) = _assert_matches_biopython(_real("lipoprotein.txt"))
    assert e.ec == "3.1.1.34"
    assert e.accepted_name == "Lipoprotein lipase"
    assert e.alternative_names == ("Clearing factor lipase", "Diacylglycerol lipase", "Diglyceride lipase")
    assert e.reactions == ("Triacylglycerol + H(2)O = diacylglycerol + a carboxylate",)
    assert e.comments == (
        "Hydrolyzes triacylglycerols in chylomicrons and very low-density lipoproteins (VLDL).",
        "Also hydrolyzes diacylglycerol.",
    )
    assert e.cofactors == ()
    assert len(e.swissprot) == 11
    assert e.swissprot[4] == ("P06858", "LIPL_HUMAN")
    assert e.swissprot[-1] == ("Q29524", "LIPL_SHEEP")
    assert not e.deleted and e.transferred_to == ()
    assert e.source == f"{REAL / 'lipoprotein.txt'}:1"


def test_real_proline_racemase_matches_biopython():
    (e,) = _assert_matches_biopython(_real("proline.txt"))
    assert (e.ec, e.accepted_name, e.reactions) == ("5.1.1.4", "Proline racemase", ("L-proline = D-proline",))
    # Entry names of 11 characters leave no space before ";" ("PRCMA_TRYCR;").
    assert ("Q4DA80", "PRCMA_TRYCR") in e.swissprot
    assert ("Q96EM0", "PRCM_HUMAN") in e.swissprot
    assert len(e.swissprot) == 9


def test_fixture_matches_biopython():
    ours = _assert_matches_biopython(SAMPLE)
    assert len(ours) == 6  # the licence header is not an entry


def _by_ec(path: Path = SAMPLE) -> dict[str, Enzyme]:
    return {e.ec: e for e in enzyme.parse(path)}


def test_normal_entry():
    e = _by_ec()["1.1.1.1"]
    assert e.accepted_name == "alcohol dehydrogenase"
    assert e.alternative_names == ("aldehyde reductase",)
    assert e.cofactors == ("Zn(2+) or Fe cation",)
    assert e.comments[0] == (
        "Acts on primary or secondary alcohols or hemi-acetals with very broad specificity; "
        "however the enzyme oxidizes methanol much more poorly than ethanol."
    )
    assert len(e.comments) == 2
    assert e.swissprot[0] == ("P07327", "ADH1A_HUMAN")
    assert len(e.swissprot) == 5
    assert e.source == f"{SAMPLE}:13"


def test_numbered_reactions_are_separate_and_hyphen_wraps_join():
    e = _by_ec()["1.1.1.1"]
    assert e.reactions == (
        "a primary alcohol + NAD(+) = an aldehyde + NADH + H(+)",
        "a secondary alcohol + NAD(+) = a ketone + NADH + H(+)",
    )
    k = _by_ec()["2.7.11.1"]
    assert k.reactions == (
        "ATP + L-seryl-[protein] = ADP + H(+) + O-phospho-L-seryl-[protein]",
        "ATP + L-threonyl-[protein] = ADP + H(+) + O-phospho-L-threonyl-[protein]",
    )
    assert k.accepted_name == "non-specific serine/threonine protein kinase"  # two DE lines
    assert k.alternative_names == (
        "A-kinase",
        "cAMP-dependent protein kinase catalytic subunit",  # AN continued on the next line
        "Protein kinase A",
        "STK32",
    )
    assert k.cofactors == ("Mg(2+)", "Mn(2+)")


def test_unnumbered_multiline_reaction_is_one_reaction():
    errors: list[RecordError] = []
    e = {x.ec: x for x in enzyme.parse(MALFORMED, on_error=errors.append)}["3.1.1.5"]
    assert e.reactions == (
        "a 1-acyl-sn-glycero-3-phosphocholine + H2O = sn-glycerol 3-phosphocholine + a fatty acid + H(+)",
    )


def test_transferred_and_deleted_entries():
    by = _by_ec()
    t = by["1.1.1.74"]
    assert t.transferred_to == ("1.1.1.198", "1.1.1.227", "1.1.1.228")
    assert t.accepted_name == "Transferred entry: 1.1.1.198, 1.1.1.227 and 1.1.1.228"
    assert not t.deleted and t.reactions == ()
    d = by["1.1.1.75"]
    assert d.deleted and d.transferred_to == () and d.accepted_name == "Deleted entry"


def test_malformed_entries_are_reported_with_location_and_skipped():
    errors: list[RecordError] = []
    got = [e.ec for e in enzyme.parse(MALFORMED, on_error=errors.append)]
    assert got == ["3.1.1.3", "3.1.1.5"]
    messages = [str(e) for e in errors]
    assert messages == [
        f"{MALFORMED}:9: entry has no ID line",
        f"{MALFORMED}:12: no '//' before the next ID (line 16)",
        f"{MALFORMED}:21: bad EC number '3.1.x.9' in ID line",
        f"{MALFORMED}:24: no '//' before the next ID (line 28)",
        f"{MALFORMED}:28: no '//' before end of file",
    ]
    assert all(isinstance(e, RecordError) for e in errors)


def test_malformed_entry_raises_without_on_error():
    it = enzyme.parse(MALFORMED)
    assert next(it).ec == "3.1.1.3"  # streaming: good entries come before the bad one is read
    with pytest.raises(RecordError, match=r"malformed\.dat:9: entry has no ID line"):
        next(it)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("ID   1.1.1.1\nDE   x.\nDR   P12345 NAME_HUMAN ;\n//\n", "bad DR cross-reference"),
        ("ID   1.1.1.1\nXX   what is this\n//\n", "unknown or malformed line"),
        ("ID   1.1.1.1\nCA   A = B.\n//\n", "no DE line"),
        ("ID   1.1.1.1\nDE   Transferred entry: somewhere.\n//\n", "names no EC number"),
    ],
)
def test_bad_lines(tmp_path, text, reason):
    path = tmp_path / "bad.dat"
    path.write_text(text)
    errors: list[RecordError] = []
    assert list(enzyme.parse(path, on_error=errors.append)) == []
    assert len(errors) == 1 and reason in str(errors[0]) and f"{path}:" in str(errors[0])


def test_gzip_detected_by_magic_bytes(tmp_path):
    plain = list(enzyme.parse(SAMPLE))
    gz = tmp_path / "enzyme.dat.gz"
    with open(SAMPLE, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert list(enzyme.parse(gz)) == plain
    disguised = tmp_path / "enzyme.dat"  # gzip content, no .gz suffix
    shutil.copy(gz, disguised)
    got = list(enzyme.parse(disguised))
    assert got == plain and got[0].source == f"{disguised}:13"


def test_truncated_gzip_is_a_source_error(tmp_path):
    gz = tmp_path / "enzyme.dat.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes())[:-40])
    with pytest.raises(SourceError, match=re.escape(str(gz))):
        list(enzyme.parse(gz))


def test_missing_file_is_a_source_error(tmp_path):
    missing = tmp_path / "nope.dat"
    with pytest.raises(SourceError, match=re.escape(str(missing))):
        enzyme.parse(missing)  # at the call, before any iteration
