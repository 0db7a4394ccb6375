"""UniProt sources: flat file, XML and TSV give equal entries; Biopython is the flat-file oracle."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
from pathlib import Path

import pytest

from proteinlm.errors import RecordError, SourceError
from proteinlm.records import ProteinEntry
from proteinlm.sources import uniprot
from proteinlm.sources.text import SKIPPED_TOPICS, HashingReader, clean_comment, clean_text
from proteinlm.sources.uniprot import guess_format, parse, parse_flat, parse_tsv, parse_xml

FIXTURES = Path(__file__).parent / "fixtures" / "uniprot"
SWISSPROT = Path(__file__).parents[1].parent / "shared/data/swissprot"
FLAT_FILES = sorted(
    p for p in SWISSPROT.glob("*") if p.suffix == ".txt" or p.name == "sp016"
) if SWISSPROT.is_dir() else []

needs_shared = pytest.mark.skipif(not FLAT_FILES, reason="shared Swiss-Prot samples missing")


def _fields(entry: ProteinEntry, drop: tuple[str, ...] = ()) -> dict:
    """The entry as a dict without `source` (and without `drop`), for readable diffs."""
    out = dataclasses.asdict(entry)
    for key in ("source", *drop):
        out.pop(key)
    return out


# --------------------------------------------------------------------------- Biopython oracle

# Biopython joins wrapped lines with a space even inside a hyphenated word ("non- covalently");
# we glue them as UniProt's XML does. Compare both sides with that one difference removed.
_HYPHEN_SPACE = re.compile(r"(?<=[^\s-])- (?!(?:and|or|nor|to)\b)")


def _unhyphen(text: str) -> str:
    return _HYPHEN_SPACE.sub("-", text)


def _biopython_view(rec) -> dict:
    """The fields of one Bio.SwissProt record, put the way ProteinEntry words them."""
    genes = []
    for gene in rec.gene_name:
        for key in ("Name", "Synonyms", "OrderedLocusNames", "ORFNames"):
            values = gene.get(key, [])
            for value in [values] if isinstance(values, str) else values:
                genes.append(re.sub(r"\s*\{[^}]*\}", "", value).strip())
    comments: dict[str, list[str]] = {}
    for raw in rec.comments:
        topic, _, text = raw.partition(":")
        topic = topic.strip()
        if topic in SKIPPED_TOPICS:
            continue
        cleaned = clean_comment(topic, text)
        if cleaned:
            comments.setdefault(topic, []).append(_unhyphen(cleaned))
    organism = rec.organism[:-1] if rec.organism.endswith(".") else rec.organism
    ecs = re.findall(r"(?:EC=|\(EC )([0-9n.\-]+)", rec.description)
    return {
        "accessions": tuple(rec.accessions),
        "entry_name": rec.entry_name,
        "organism": organism,
        "taxon_id": int(rec.taxonomy_id[0]),
        "sequence": rec.sequence,
        "length": rec.sequence_length,
        "keywords": tuple(sorted(rec.keywords)),
        "ec_numbers": tuple(dict.fromkeys(ecs)),
        "gene_names": tuple(genes),
        "pubmed_ids": tuple(
            v for ref in rec.references for k, v in ref.references if k == "PubMed"
        ),
        "go_terms": tuple(sorted(x[1] for x in rec.cross_references if x[0] == "GO")),
        "pdb_ids": tuple(sorted(x[1] for x in rec.cross_references if x[0] == "PDB")),
        "comments": {k: tuple(v) for k, v in comments.items()},
    }


def _our_view(entry: ProteinEntry) -> dict:
    return {
        "accessions": entry.accessions,
        "entry_name": entry.entry_name,
        "organism": entry.organism,
        "taxon_id": entry.taxon_id,
        "sequence": entry.sequence,
        "length": entry.length,
        "keywords": entry.keywords,
        "ec_numbers": entry.ec_numbers,
        "gene_names": entry.gene_names,
        "pubmed_ids": entry.pubmed_ids,
        "go_terms": entry.go_terms,
        "pdb_ids": entry.pdb_ids,
        "comments": {k: tuple(_unhyphen(t) for t in v) for k, v in entry.comments.items()},
    }


@needs_shared
@pytest.mark.parametrize("path", FLAT_FILES, ids=lambda p: p.name)
def test_flat_matches_biopython(path: Path) -> None:
    SwissProt = pytest.importorskip("Bio.SwissProt")
    with open(path) as fh:
        expected = [_biopython_view(rec) for rec in SwissProt.parse(fh)]
    ours = [_our_view(e) for e in parse(path)]
    assert len(ours) == len(expected) > 0
    for got, want in zip(ours, expected):
        assert got == want, got["accessions"][0]


@needs_shared
def test_real_comments_have_no_evidence_or_citations() -> None:
    paths = [*FLAT_FILES, SWISSPROT / "multi_ex.xml", SWISSPROT / "Q13639.xml"]
    texts = [t for p in paths for e in parse(p) for ts in e.comments.values() for t in ts]
    assert len(texts) > 100
    for text in texts:
        assert "{ECO:" not in text and "PubMed:" not in text and "[MIM:" not in text, text
        assert "(By similarity)" not in text and "(Potential)" not in text, text
        assert text == text.strip() and "  " not in text and " ." not in text, text


@needs_shared
def test_sources_are_the_id_lines() -> None:
    path = SWISSPROT / "multi_ex.txt"
    id_lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if line[:2] == "ID"]
    assert [e.source for e in parse(path)] == [f"{path}:{i}" for i in id_lines]


# --------------------------------------------------------------------------- format equality


@needs_shared
def test_multi_ex_flat_equals_xml() -> None:
    flat = list(parse(SWISSPROT / "multi_ex.txt"))
    xml = list(parse(SWISSPROT / "multi_ex.xml"))
    assert len(flat) == len(xml) == 8
    for a, b in zip(flat, xml):
        assert _fields(a) == _fields(b)
    assert flat == xml  # `source` is not part of equality


@needs_shared
def test_q13639_xml() -> None:
    (entry,) = parse(SWISSPROT / "Q13639.xml")
    assert entry.accession == "Q13639" and entry.entry_name == "5HT4R_HUMAN"
    assert entry.length == 388 and entry.taxon_id == 9606
    assert entry.organism == "Homo sapiens (Human)"
    assert entry.recommended_name == "5-hydroxytryptamine receptor 4"
    assert entry.alternative_names == ("5-HT-4", "5-HT4", "Serotonin receptor 4")
    assert entry.comments["SUBCELLULAR LOCATION"][0].startswith(
        "Cell membrane; Multi-pass membrane protein. Endosome. Interaction with SNX27"
    )
    assert entry.source == f"{SWISSPROT / 'Q13639.xml'}:3"


def test_modern_fixtures_agree_across_formats() -> None:
    flat = list(parse(FIXTURES / "modern.dat"))
    xml = list(parse(FIXTURES / "modern.xml"))
    tsv = list(parse(FIXTURES / "modern.tsv"))
    assert [e.accession for e in flat] == ["O23729", "P0A186", "P60137", "P68308", "Q13454"]
    for a, b, c in zip(flat, xml, tsv):
        assert _fields(a) == _fields(b)
        # TSV downloads have no secondary accessions column
        assert _fields(a, drop=("accessions",)) == _fields(c, drop=("accessions",))
        assert c.accessions == a.accessions[:1]


def test_naming_rules_on_modern_fixture() -> None:
    by_acc = {e.accession: e for e in parse(FIXTURES / "modern.xml")}
    tusc3 = by_acc["Q13454"]
    assert tusc3.recommended_name == "Tumor suppressor candidate 3"
    assert tusc3.alternative_names == (
        "Dolichyl-diphosphooligosaccharide--protein glycosyltransferase subunit TUSC3",
        "Oligosaccharyl transferase subunit TUSC3",
        "Magnesium uptake/transporter TUSC3",
        "Protein N33",
    )
    assert tusc3.gene_names == ("TUSC3", "N33")
    assert tusc3.comments["DISEASE"] == (
        "Intellectual developmental disorder, autosomal recessive 7 (MRT7): A disorder "
        "characterized by significantly below average general intellectual functioning associated "
        "with impairments in adaptive behavior and manifested during the developmental period. "
        "The disease is caused by variants affecting the gene represented in this entry.",
    )
    assert len(tusc3.comments["FUNCTION"]) == 2 and "ALTERNATIVE PRODUCTS" not in tusc3.comments
    nd3 = by_acc["P68308"]
    assert nd3.organism == "Balaenoptera physalus (Fin whale) (Balaena physalus)"
    assert nd3.gene_names == ("MT-ND3", "MTND3", "NADH3", "ND3") and nd3.ec_numbers == ("7.1.1.2",)
    assert nd3.comments["CATALYTIC ACTIVITY"] == (
        "a ubiquinone + 5 H(+)(in) + NADH = a ubiquinol + 4 H(+)(out) + NAD(+) (EC 7.1.1.2).",
    )
    assert by_acc["P0A186"].comments["COFACTOR"] == (
        "[2Fe-2S] cluster. Binds 1 [2Fe-2S] cluster per subunit.",
    )
    psbl = by_acc["P60137"]
    assert psbl.gene_names == ("psbL", "LOC_Osp1g00500")
    assert psbl.alternative_names == ("PSII-L",)
    assert psbl.comments["SUBCELLULAR LOCATION"] == (
        "Plastid, chloroplast thylakoid membrane; Single-pass membrane protein.",
    )
    # PubMed ids come from citations only, not from the <evidence> sources
    assert "18452889" in tusc3.pubmed_ids and by_acc["P0A186"].pubmed_ids == ("8226631",)


def test_old_format_description_and_qualifiers(tmp_path: Path) -> None:
    """Pre-2008 DE lines and "(By similarity)"/"(Potential)" qualifiers."""
    text = (FIXTURES / "modern.dat").read_text().split("//\n")[2] + "//\n"  # PSBL_ORYSJ
    start, end = text.index("DE   "), text.index("GN   ")
    text = text[:start] + (
        "DE   Photosystem II reaction center protein L (PSII-L) (EC 1.2.3.4) [Includes:\n"
        "DE   Something else (EC 5.6.7.8)] (Fragment).\n"
    ) + text[end:]
    text = text.replace("correct PSII assembly and/or dimerization.", "correct PSII assembly\n"
                        "CC       (By similarity).")
    path = tmp_path / "old.dat"
    path.write_text(text)
    (entry,) = parse(path)
    assert entry.recommended_name == "Photosystem II reaction center protein L"
    assert entry.alternative_names == ("PSII-L",)
    assert entry.ec_numbers == ("1.2.3.4", "5.6.7.8")
    assert entry.comments["FUNCTION"][0].endswith("required for correct PSII assembly.")


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("name", ["modern.dat", "modern.xml", "modern.tsv"])
def test_gzip_variants(tmp_path: Path, name: str) -> None:
    plain = list(parse(FIXTURES / name))
    gz = tmp_path / f"{name}.gz"
    gz.write_bytes(gzip.compress((FIXTURES / name).read_bytes()))
    assert list(parse(gz)) == plain
    # gzip is recognised by its magic bytes, whatever the name says
    renamed = tmp_path / name
    renamed.write_bytes(gz.read_bytes())
    assert list(parse(renamed)) == plain
    assert [e.source for e in parse(renamed)] == [e.source.replace(str(FIXTURES), str(tmp_path))
                                                  for e in plain]


@pytest.mark.parametrize("name", ["modern.dat", "modern.xml", "modern.tsv"])
def test_truncated_gzip_is_a_source_error(tmp_path: Path, name: str) -> None:
    data = gzip.compress((FIXTURES / name).read_bytes())
    path = tmp_path / f"{name}.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=re.escape(str(path))):
        list(parse(path))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("compiled_cut", [True, False])
def test_flat_pieces_hash_the_bytes_they_read(tmp_path: Path, monkeypatch, gz: bool, compiled_cut: bool) -> None:
    """A flat file read through a HashingReader gives the same pieces, and the reader holds the
    SHA-256 and size of the whole file (the compressed bytes of a .gz): what `sha256sum` prints,
    also when the reads end anywhere."""
    from proteinlm.sources import flat_pieces

    raw = (FIXTURES / "modern.dat").read_bytes() * 3
    path = tmp_path / ("x.dat.gz" if gz else "x.dat")
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    if not compiled_cut:
        monkeypatch.setattr(flat_pieces, "_c_cut_pieces", None)
    monkeypatch.setattr(flat_pieces, "_CHUNK", 1000)  # many reads, cut anywhere
    want = list(flat_pieces.flat_pieces(path))
    reader = HashingReader(hashlib.sha256())
    assert list(flat_pieces.flat_pieces(path, reader)) == want and len(want) == 3 * len(list(parse(FIXTURES / "modern.dat")))
    assert reader.done and reader.bytes == path.stat().st_size
    assert reader.digest.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    # a stopped read leaves the reader unfinished: its hash is not of the whole file
    reader = HashingReader(hashlib.sha256())
    next(flat_pieces.flat_pieces(path, reader))
    assert not reader.done


def test_hashing_reader_of_a_missing_file_is_a_source_error(tmp_path: Path) -> None:
    from proteinlm.sources import flat_pieces

    with pytest.raises(SourceError, match="missing.dat"):
        list(flat_pieces.flat_pieces(tmp_path / "missing.dat", HashingReader(hashlib.sha256())))


@pytest.mark.parametrize("name", ["missing.dat", "missing.xml.gz", "missing.tsv"])
def test_missing_file_is_a_source_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(SourceError, match=name):
        list(parse(tmp_path / name))
    with pytest.raises(SourceError):
        list(parse(tmp_path))  # a directory


def test_format_from_suffix() -> None:
    assert guess_format("uniprot_sprot.dat.gz") == "flat"
    assert guess_format("P12345.txt") == "flat"
    assert guess_format("sp016") == "flat"
    assert guess_format("uniprot_sprot.xml.gz") == "xml"
    assert guess_format("x.XML") == "xml"
    assert guess_format("query.tsv.gz") == "tsv"
    assert [e.accession for e in parse(FIXTURES / "modern.xml", fmt="xml")][0] == "O23729"
    with pytest.raises(ValueError):
        parse(FIXTURES / "modern.dat", fmt="json")
    assert uniprot.parse_flat is parse_flat and uniprot.parse_xml is parse_xml


# --------------------------------------------------------------------------- bad records


def _entries(path: Path) -> list[str]:
    return [e + "//\n" for e in path.read_text().split("//\n") if e.strip()]


def test_flat_bad_entries_are_skipped_with_location(tmp_path: Path) -> None:
    no_end, good2, good1, bad_len, no_sq = _entries(FIXTURES / "modern.dat")  # O23729 .. Q13454
    no_end = no_end[: -len("//\n")]  # O23729 loses its terminating "//"
    bad_len = bad_len.replace("SQ   SEQUENCE   115 AA;", "SQ   SEQUENCE   116 AA;")  # P68308
    no_sq = no_sq[: no_sq.index("SQ   ")] + "//\n"  # Q13454
    path = tmp_path / "bad.dat"
    path.write_text(good1 + no_end + bad_len + good2 + no_sq + "ID   TRUNCATED\nAC   X00001;\n")
    errors: list[RecordError] = []
    got = list(parse_flat(path, on_error=errors.append))
    assert [e.accession for e in got] == ["P60137", "P0A186"]
    messages = [str(e) for e in errors]
    lines = path.read_text().splitlines()
    id_lines = [i for i, line in enumerate(lines, 1) if line.startswith("ID")]
    assert messages[0] == f"{path}:{id_lines[1]}: entry does not end with a // line, entry O23729"
    assert messages[1].startswith(f"{path}:{id_lines[2]}: sequence has 115 residues")
    assert messages[1].endswith("entry P68308")
    assert messages[2] == f"{path}:{id_lines[4]}: no SQ line, entry Q13454"
    assert messages[3] == f"{path}:{id_lines[5]}: entry does not end with a // line, entry X00001"
    assert len(errors) == 4
    with pytest.raises(RecordError, match="O23729"):  # no on_error: the first bad record raises
        list(parse_flat(path))


def test_flat_missing_ac_is_reported(tmp_path: Path) -> None:
    entry = _entries(FIXTURES / "modern.dat")[2]
    path = tmp_path / "noac.dat"
    path.write_text("\n\n" + entry.replace("AC   P60137; O47030; P12166; P12167; Q34007;\n", ""))
    errors: list[RecordError] = []
    assert list(parse(path, on_error=errors.append)) == []
    assert str(errors[0]) == f"{path}:3: no AC line, entry ?"


def test_xml_broken_entries_are_skipped_with_location(tmp_path: Path) -> None:
    text = (FIXTURES / "modern.xml").read_text()
    text = re.sub(r"<sequence length=\"104\"[^>]*>\w+</sequence>", "", text)  # P0A186: no sequence
    text = text.replace('<sequence length="38"', '<sequence length="39"')  # P60137: wrong length
    path = tmp_path / "bad.xml"
    path.write_text(text)
    errors: list[RecordError] = []
    got = list(parse_xml(path, on_error=errors.append))
    assert [e.accession for e in got] == ["O23729", "P68308", "Q13454"]
    entry_lines = [i for i, line in enumerate(text.splitlines(), 1) if line.startswith("<entry ")]
    assert [str(e) for e in errors] == [
        f"{path}:{entry_lines[1]}: no <sequence>, entry P0A186",
        f"{path}:{entry_lines[2]}: sequence has 38 residues, length attribute says 39, "
        "entry P60137",
    ]


def test_xml_not_well_formed_is_a_source_error(tmp_path: Path) -> None:
    text = (FIXTURES / "modern.xml").read_text()
    path = tmp_path / "cut.xml"
    path.write_text(text[: text.index("<accession>P68308")] + "<accession>P6")
    got = []
    with pytest.raises(SourceError, match="cut.xml: not well-formed XML"):
        for entry in parse(path):
            got.append(entry.accession)
    assert got == ["O23729", "P0A186", "P60137"]  # what came before the damage was delivered


def test_xml_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    text = (FIXTURES / "modern.xml").read_text()
    text = text.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE uniprot [<!ENTITY x SYSTEM "{secret}">]>',
    ).replace("Belongs to the PsbL family.", "Belongs to the PsbL family. &x;")
    path = tmp_path / "xxe.xml"
    path.write_text(text)
    texts = [t for e in parse(path) for ts in e.comments.values() for t in ts]
    assert not any("TOP SECRET" in t for t in texts)


def test_tsv_bad_rows_are_skipped(tmp_path: Path) -> None:
    header, *rows = (FIXTURES / "modern.tsv").read_text().splitlines()
    rows[1] = rows[1].replace("\t104\t", "\t105\t")  # P0A186: Length disagrees with Sequence
    rows[2] = "\t".join(rows[2].split("\t")[:5])  # P60137: cut short
    path = tmp_path / "bad.tsv"
    path.write_text("\n".join([header, *rows]) + "\n")
    errors: list[RecordError] = []
    got = list(parse_tsv(path, on_error=errors.append))
    assert [e.accession for e in got] == ["O23729", "P68308", "Q13454"]
    assert [str(e).split(": ")[0] for e in errors] == [f"{path}:3", f"{path}:4"]
    assert "Length says 105, entry P0A186" in str(errors[0])
    assert "entry P60137" in str(errors[1])
    nohead = tmp_path / "nohead.tsv"
    nohead.write_text("\n".join(rows) + "\n")
    with pytest.raises(SourceError, match="nohead.tsv"):
        list(parse_tsv(nohead))


# --------------------------------------------------------------------------- cleaning

CLEAN_CASES = [
    # evidence tags, including lists with citations inside
    (
        "Magnesium transporter. {ECO:0000269|PubMed:19717468}.",
        "Magnesium transporter.",
    ),
    (
        "Has also oxidoreductase-independent functions. {ECO:0000269|PubMed:25135935, "
        "ECO:0000305|PubMed:12887896, ECO:0000305|PubMed:24685145}.",
        "Has also oxidoreductase-independent functions.",
    ),
    (
        "Endoplasmic reticulum membrane {ECO:0000250}; Multi-pass membrane protein {ECO:0000250}.",
        "Endoplasmic reticulum membrane; Multi-pass membrane protein.",
    ),
    # topic prefix (TSV cells) and inline citations
    (
        "FUNCTION: Involved in sugar transport (PubMed:12345, PubMed:67890). "
        "{ECO:0000269|PubMed:12345}.",
        "Involved in sugar transport.",
    ),
    # MIM references and the Note= key; the acronym stays
    (
        "Intellectual developmental disorder, autosomal recessive 7 (MRT7) [MIM:611093]: A "
        "disorder. {ECO:0000269|PubMed:18452889}. Note=The disease is caused by variants.",
        "Intellectual developmental disorder, autosomal recessive 7 (MRT7): A disorder. The "
        "disease is caused by variants.",
    ),
    (
        "Defects in GRN are the cause of frontotemporal dementia (UP-FTD) [MIM:607485]; also "
        "known as FTD.",
        "Defects in GRN are the cause of frontotemporal dementia (UP-FTD); also known as FTD.",
    ),
    # old-style qualifiers
    ("Interacts with TMEM242 (By similarity). {ECO:0000250|UniProtKB:P03897}.",
     "Interacts with TMEM242."),
    ("Cytoplasm (Potential).", "Cytoplasm."),
    ("Mitochondrion (Probable). Nucleus.", "Mitochondrion. Nucleus."),
    ("FAD (By similarity).", "FAD."),
    # ". ." and "..", whitespace, empty parentheses; an ellipsis is kept
    ("Binds heme. . Forms dimers..", "Binds heme. Forms dimers."),
    ("  Glycosylated  at\n Asn-90 ( ) , probably .  ", "Glycosylated at Asn-90, probably."),
    ("N-glycosylated (GlcNAc...) asparagine.", "N-glycosylated (GlcNAc...) asparagine."),
    ("Specific cleavage of Arg-|-Val bond.", "Specific cleavage of Arg-|-Val bond."),
]


@pytest.mark.parametrize(("raw", "want"), CLEAN_CASES)
def test_clean_text(raw: str, want: str) -> None:
    assert clean_text(raw) == want


def test_double_periods_become_one_and_other_runs_of_periods_stay() -> None:
    """Every run of exactly two periods becomes one; a single period and an ellipsis (3+) stay."""
    import itertools

    for n in range(1, 8):
        for chars in itertools.product("a.", repeat=n):
            text = "x" + "".join(chars) + "x"  # letters at both ends: nothing else of the cleaning applies
            want = re.sub(r"\.+", lambda m: "." if len(m.group()) == 2 else m.group(), text)
            assert clean_text(text) == want, text


def test_clean_structured_comments() -> None:
    reaction = (
        "Reaction=4-coumaroyl-CoA + 2 H(+) + 3 malonyl-CoA = 2',4,4',6'-tetrahydroxychalcone + 3 "
        "CO2 + 4 CoA; Xref=Rhea:RHEA:11128, ChEBI:CHEBI:15378; EC=2.3.1.74; "
        "Evidence={ECO:0000255|PROSITE-ProRule:PRU10023};"
    )
    assert clean_comment("CATALYTIC ACTIVITY", reaction) == (
        "4-coumaroyl-CoA + 2 H(+) + 3 malonyl-CoA = 2',4,4',6'-tetrahydroxychalcone + 3 CO2 + "
        "4 CoA (EC 2.3.1.74)."
    )
    assert clean_comment(
        "CATALYTIC ACTIVITY", "Reaction=H2O + ATP = ADP + phosphate; Xref=Rhea:RHEA:1;"
    ) == "H2O + ATP = ADP + phosphate."
    cofactor = (
        "Name=Mg(2+); Xref=ChEBI:CHEBI:18420; Evidence={ECO:0000250}; Name=Mn(2+); "
        "Xref=ChEBI:CHEBI:29035; Evidence={ECO:0000250}; Note=Binds 2 divalent cations; uses "
        "either. {ECO:0000250};"
    )
    assert clean_comment("COFACTOR", cofactor) == (
        "Mg(2+); Mn(2+). Binds 2 divalent cations; uses either."
    )
    assert clean_comment("COFACTOR", "FAD (By similarity).") == "FAD."
