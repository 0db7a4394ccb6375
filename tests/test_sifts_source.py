"""SIFTS CSV parsers: hand-written fixtures in the published format (release comment line, header,
rows), gzip, located bad rows, bad headers, truncated files, and the PubMed -> UniProt join."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from proteinlm.errors import RecordError, SourceError
from proteinlm.sources import sifts

FIXTURES = Path(__file__).parent / "fixtures" / "sifts"
PUBMED = FIXTURES / "pdb_pubmed.csv"
CHAINS = FIXTURES / "pdb_chain_uniprot.csv"
ENZYME = FIXTURES / "pdb_chain_enzyme.csv"
HAEMOGLOBIN = {"P69905", "P68871"}


def test_pdb_pubmed():
    rows = list(sifts.parse_pdb_pubmed(PUBMED))
    assert rows[:4] == [
        ("101m", 0, "9398249"), ("102l", 0, "8445640"),
        ("1a00", 0, "9521702"), ("1a00", 1, "9398249"),
    ]
    assert len(rows) == 9 and all(isinstance(o, int) for _, o, _ in rows)


def test_pdb_chain_uniprot():
    rows = list(sifts.parse_pdb_chain_uniprot(CHAINS))
    assert rows[0] == ("101m", "A", "P02185")
    assert rows.count(("102l", "A", "P00720")) == 2  # one row per mapped segment
    assert ("1a00", "L", "P00734") in rows and len(rows) == 13


def test_pdb_chain_enzyme():
    assert list(sifts.parse_pdb_chain_enzyme(ENZYME)) == [
        ("102l", "A", "P00720", "3.2.1.17"),
        ("1a00", "H", "P00734", "3.4.21.5"),
        ("1a0j", "A", "P35049", "3.4.21.-"),
    ]


def test_gzip_by_magic_bytes(tmp_path):
    for src in (PUBMED, CHAINS):
        gz = tmp_path / src.name  # no .gz suffix: the magic bytes decide
        gz.write_bytes(gzip.compress(src.read_bytes()))
        parse = sifts.parse_pdb_pubmed if src is PUBMED else sifts.parse_pdb_chain_uniprot
        assert list(parse(gz)) == list(parse(src))


def test_normalisation_and_column_order(tmp_path):
    f = tmp_path / "pdb_chain_uniprot.csv"
    f.write_text(
        "# 2024/05/29 - 11:41 | PDB: 21.24 | UniProt: 2024.03\r\n"
        "CHAIN,PDB,SP_PRIMARY,RES_BEG,RES_END,PDB_BEG,PDB_END,SP_BEG,SP_END,NEW_COLUMN\r\n"
        "a, 1ABC ,p69905,1,141,1,141,2,142,x\r\n"
    )
    assert list(sifts.parse_pdb_chain_uniprot(f)) == [("1abc", "a", "P69905")]  # chain case kept


def test_bad_rows_are_located_and_skipped():
    errors: list[RecordError] = []
    rows = list(sifts.parse_pdb_pubmed(FIXTURES / "bad_pdb_pubmed.csv", on_error=errors.append))
    assert rows == [("101m", 0, "9398249"), ("4hhb", 0, "6726807")]
    bad = str(FIXTURES / "bad_pdb_pubmed.csv")
    assert [str(e) for e in errors] == [
        f"{bad}:4: ORDINAL 'zero' is not a non-negative integer",
        f"{bad}:5: 2 columns, the header has 3",
        f"{bad}:6: empty PDB",
        f"{bad}:7: PUBMED_ID 'PMC123' is not numeric",
        f"{bad}:8: 4 columns, the header has 3",
    ]
    errors.clear()
    path = FIXTURES / "bad_pdb_chain_uniprot.csv"
    rows = list(sifts.parse_pdb_chain_uniprot(path, on_error=errors.append))
    assert rows == [("101m", "A", "P02185"), ("4hhb", "A", "P69905")]
    assert [str(e) for e in errors] == [
        f"{path}:4: empty SP_PRIMARY", f"{path}:5: 5 columns, the header has 9",
    ]
    with pytest.raises(RecordError, match=r"bad_pdb_pubmed\.csv:4: ORDINAL"):
        list(sifts.parse_pdb_pubmed(FIXTURES / "bad_pdb_pubmed.csv"))  # no on_error: raised


def test_unreadable_files_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="nope.csv"):
        list(sifts.parse_pdb_pubmed(tmp_path / "nope.csv"))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("# comment\nPDB,CHAIN,ACCESSION,EC_NUMBER\n101m,A,P02185,1.1.1.1\n")
    with pytest.raises(SourceError, match=r"wrong\.csv:2: header .* lacks .*ORDINAL"):
        list(sifts.parse_pdb_pubmed(wrong))
    empty = tmp_path / "empty.csv"
    empty.write_text("# only the release line\n")
    with pytest.raises(SourceError, match="no header"):
        list(sifts.parse_pdb_pubmed(empty))
    big = tmp_path / "big.csv"
    with open(big, "w") as fh:
        shutil.copyfileobj(open(CHAINS), fh)
        fh.writelines(f"{i:04d},A,P69905,1,141,1,141,2,142\n" for i in range(20000))
    truncated = tmp_path / "truncated.csv.gz"
    data = gzip.compress(big.read_bytes())
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"truncated\.csv\.gz: unreadable"):
        list(sifts.parse_pdb_chain_uniprot(truncated))


def test_pubmed_to_uniprot_join():
    joined = sifts.pubmed_to_uniprot(PUBMED, CHAINS)
    assert joined == {
        "9398249": {"P02185", "P00734"},  # cited by 101m, and by 1a00 as a secondary citation
        "8445640": {"P00720"},
        "9521702": {"P00734"},
        "6726807": HAEMOGLOBIN,  # 1hho, 2hhb and 4hhb share it
        "1177338": HAEMOGLOBIN,
    }  # 9xyz has no UniProt mapping: its PMID is left out
    primary = sifts.pubmed_to_uniprot(PUBMED, CHAINS, primary_only=True)
    assert primary["9398249"] == {"P02185"} and "1177338" not in primary
    # the parsers' tuples work as well as paths, and PDB case does not matter
    tuples = sifts.pubmed_to_uniprot(
        [("4HHB", 0, "1"), ("1hho", 2, "2")], [("4hhb", "A", "P69905"), ("1HHO", "B", "P68871")]
    )
    assert tuples == {"1": {"P69905"}, "2": {"P68871"}}


def test_join_reports_bad_rows_of_paths():
    errors: list[RecordError] = []
    joined = sifts.pubmed_to_uniprot(
        FIXTURES / "bad_pdb_pubmed.csv",
        FIXTURES / "bad_pdb_chain_uniprot.csv",
        on_error=errors.append,
    )
    assert joined == {"9398249": {"P02185"}, "6726807": {"P69905"}}
    assert len(errors) == 7
