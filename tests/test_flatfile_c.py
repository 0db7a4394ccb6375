"""The compiled flat-file reader (sources/_flatfile.c) against the Python reader it replaces.

The C reader either gives exactly the fields `_flat_entry` gives or declines (None), and the Python
reader then reads the entry. Checked on every real entry (Biopython, the oracle of the Python
reader, sees the same entries in test_uniprot_source.py) and on thousands of mutated copies that
aim at the rules where the two could part: evidence braces, partitions on ": " and "=", hyphen
wraps before "and"/"or"/"nor"/"to", whitespace other than spaces, wrapped and dropped lines.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from proteinlm.sources import flat_pieces
from proteinlm.sources import uniprot
from proteinlm.sources.text import SKIPPED_TOPICS

FIXTURES = Path(__file__).parent / "fixtures" / "uniprot"
SWISSPROT = Path(__file__).parents[1].parent / "shared/data/swissprot"

if os.environ.get("PROTEINLM_REQUIRE_C") == "1":  # CI: the extension must have been built
    from proteinlm.sources import _flatfile  # noqa: F401
elif uniprot._c_fields is None:
    pytest.skip("the C flat-file reader is not built (no compiler at install)", allow_module_level=True)


def _entry_texts() -> list[str]:
    """What `_flat_entry` receives for each entry of the real flat files and the fixture."""
    files = [FIXTURES / "modern.dat"]
    if SWISSPROT.is_dir():
        files += sorted(p for p in SWISSPROT.iterdir() if p.suffix == ".txt" or p.name == "sp016")
    out = []
    for f in files:
        for text, _ in uniprot.flat_pieces(f):
            text = text.lstrip()
            if text.startswith("ID   ") and text.endswith("\n//\n"):
                out.append(text[:-3])
    return out


def _python(t: str):
    try:
        return uniprot._flat_entry(t, "f:1")
    except (uniprot.BadRecord, ValueError, IndexError, KeyError):
        return None


def _compiled(t: str):
    fields = uniprot._c_fields(t, SKIPPED_TOPICS)
    # the entry as parse_flat_piece passes it: the whole piece, read up to `end` (what follows
    # must not be read: here not the NUL after a str's last character, but its "//" line)
    assert uniprot._c_fields(t + "//\nID   X\n", SKIPPED_TOPICS, len(t)) == fields
    return None if fields is None else uniprot._entry_of(fields, "f:1")


def test_real_entries_read_alike_and_only_the_old_format_is_declined():
    texts = _entry_texts()
    assert len(texts) >= 10
    declined = []
    for t in texts:
        got = _compiled(t)
        if got is None:
            declined.append(t.split()[1])
        else:
            assert got == _python(t), t.split()[1]
    # sp016 is a 2007 entry: its DE lines are the pre-2008 free text, which only Python reads
    assert declined == (["FOS_HUMAN"] if SWISSPROT.is_dir() else [])


TRICKY = [
    " {ECO:0000269|PubMed:123}", "{ECO:1}", "{", "}", "{a{b}", ";", "=", ": ", ":", " and", "-", "PubMed=12",
    "PubMed=", "  ", "\t", "\x1c", "\x1f", "\x0b", "\x0c", "\r", ".", "..", ",", "(", ")", "()", "( ", "Note=", "EC=1.2.3.4",
    "Full=Alpha;", "Short=X;", "Name=Y;", "Synonyms=a, b;", "ORFNames=c;", "OrderedLocusNames=d", "and", "to",
    "or ", "nor", "tox", " -!- ", "-!- FUNCTION: ", "---", "RecName: ", "AltName: ", "Flags: ", "Contains:",
    "Reaction=A = B; EC=1.1.1.1;", "Name=heme; Note=x;", "[Isoform 2]: ", "[MIM:1]", "(PubMed:1, PubMed:2)",
    "(By similarity)", "1_0", "+5", "x" * 40, "é",
]
CODES = ("AC", "DE", "GN", "OS", "OX", "CC", "DR", "KW", "SQ", "RN", "RX")


def _mutate(t: str, rnd: random.Random) -> str:
    lines = t.split("\n")[:-1]  # t ends with a newline
    for _ in range(rnd.randint(1, 3)):
        i = rnd.randrange(1, len(lines))
        op = rnd.randrange(7)
        if op == 0:  # drop a line
            del lines[i]
        elif op == 1:  # repeat a line
            lines.insert(i, lines[i])
        elif op == 2:  # a tricky piece inside a line
            at = rnd.randint(min(5, len(lines[i])), len(lines[i]))
            lines[i] = lines[i][:at] + rnd.choice(TRICKY) + lines[i][at:]
        elif op == 3:  # wrap a line, with a hyphen before the break now and then
            at = rnd.randint(min(6, len(lines[i])), len(lines[i]))
            head = lines[i][:at] + ("-" if rnd.random() < 0.5 else "")
            indent = " " * rnd.choice((3, 5, 7, 8, 9))
            lines[i : i + 1] = [head, lines[i][:2] + indent + rnd.choice(("and x", "or", "tox", "nor.", "")) +
                                lines[i][at:]]
        elif op == 4:  # a line of another code
            lines.insert(i, rnd.choice(CODES) + "   " + rnd.choice(TRICKY) + rnd.choice(TRICKY))
        elif op == 5:  # a line's code changed
            lines[i] = rnd.choice(CODES) + lines[i][2:]
        else:  # a gene separator
            lines.insert(i, "GN   and")
    return "\n".join(lines) + "\n"


def test_mutated_entries_read_alike_or_are_declined():
    rnd = random.Random(20261202)
    texts = _entry_texts()
    compared = declined = 0
    for _ in range(3000):
        t = _mutate(rnd.choice(texts), rnd)
        got = _compiled(t)
        if got is None:
            declined += 1
            continue
        compared += 1
        assert got == _python(t), t
    # most mutants are still read by C: the comparison is not vacuous
    assert compared > 2000, (compared, declined)


@pytest.mark.parametrize("space", ["\x1c", "\x1f", "\x0b", "\t", " "])
def test_taxon_id_whitespace_is_what_int_accepts(space):
    """str.strip drops \x1c-\x1f, int() does not: the taxon id "\x1f9606" is an error in Python
    and must not be read by C (found by the mutation test on the fixture's entries)."""
    t = _entry_texts()[0]
    i = t.find("\nOX   NCBI_TaxID=") + len("\nOX   NCBI_TaxID=")
    mutated = t[:i] + space + t[i:]
    got, want = _compiled(mutated), _python(mutated)
    assert got is None or got == want
    assert (want is None) == (space in "\x1c\x1f")


def test_non_ascii_and_malformed_entries_are_left_to_python():
    t = _entry_texts()[0]
    assert uniprot._c_fields(t.replace("ID   ", "ID   é", 1), SKIPPED_TOPICS) is None
    sq = t.rfind("\nSQ   ")
    assert uniprot._c_fields(t[:sq] + "\nSQ   SEQUENCE   9999 AA;" + t[t.find("\n", sq + 1):], SKIPPED_TOPICS) is None
    assert uniprot._c_fields(t[: t.find("\nAC   ")] + t[t.find("\n", t.find("\nAC   ") + 1):], SKIPPED_TOPICS) is None


def test_builds_with_and_without_the_c_reader_are_byte_identical(tmp_path, monkeypatch):
    from proteinlm.dataset.uniprot.pipeline import UniprotBuildOptions, build_uniprot

    inputs = [str(FIXTURES / "modern.dat")] + sorted(
        str(p) for p in SWISSPROT.glob("*.txt")) if SWISSPROT.is_dir() else [str(FIXTURES / "modern.dat")]

    def files(out: Path) -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file() and ".state" not in p.parts and p.name != "manifest.json"}

    build_uniprot(UniprotBuildOptions(inputs=inputs, out=str(tmp_path / "c"), tokenizer="none"))
    monkeypatch.setattr(uniprot, "_c_fields", None)
    build_uniprot(UniprotBuildOptions(inputs=inputs, out=str(tmp_path / "py"), tokenizer="none"))
    assert files(tmp_path / "c") == files(tmp_path / "py") != {}


@pytest.mark.parametrize("code", [c for c in range(128) if c != 10])
def test_every_ascii_character_is_space_or_word_as_in_python(code):
    """The C reader's whitespace (str.strip/split) and word (regex \\w) classes, character by
    character: at the end of the OS line (stripped) and inside a PubMed id and a GO id."""
    ch = chr(code)
    t = _entry_texts()[0]
    os_at = t.find("\nOS   ")
    t = t[: t.find("\n", os_at + 1)] + ch + t[t.find("\n", os_at + 1):]
    t = t.replace("PubMed=", "PubMed=1" + ch, 1)
    go = t.find("\nDR   GO; ")
    if go >= 0:
        t = t[: go + 10] + ch + t[go + 10:]
    assert _compiled(t) in (None, _python(t))
    assert _compiled(t) is not None  # not declined: the comparison above is real


def _both_cuts(path, monkeypatch) -> tuple[list, list]:
    """flat_pieces of `path` with the compiled cut (bytes) and with the text reader."""
    compiled = list(flat_pieces.flat_pieces(path))
    with monkeypatch.context() as m:
        m.setattr(flat_pieces, "_c_cut_pieces", None)
        return compiled, list(flat_pieces.flat_pieces(path))


def test_compiled_cut_gives_the_text_readers_pieces(monkeypatch, tmp_path):
    """The compiled cut reads bytes and decodes each piece; the text reader decodes the stream
    (undecodable bytes replaced, universal newlines) and cuts it in Python. Same pieces and line
    numbers on real files, with junk before the first ID line and no final newline, with CRLF and
    CR line ends, undecodable bytes, a BOM, gzip, and with reads that end anywhere (tiny chunks)."""
    if flat_pieces._c_cut_pieces is None:
        pytest.skip("the compiled reader is not built")
    files = [FIXTURES / "modern.dat"]
    if SWISSPROT.is_dir():
        files += sorted(p for p in SWISSPROT.iterdir() if p.suffix == ".txt" or p.name == "sp016")
    modern = (FIXTURES / "modern.dat").read_bytes()
    variants = {
        "lead.dat": b"\n\njunk\n" + modern.rstrip(b"\n"),
        "blank-lead.dat": b"\n \n" + modern,
        "crlf.dat": modern.replace(b"\n", b"\r\n"),
        "cr.dat": modern.replace(b"\n", b"\r"),
        "mixed.dat": modern.replace(b"\nID", b"\r\nID").replace(b"\nSQ", b"\rSQ") + b"\r",
        "bad-utf8.dat": modern.replace(b"Homo sapiens", b"Homo \xe9\xff sapiens \xe2\x82"),
        "bom.dat": b"\xef\xbb\xbf" + modern,
        "only-junk.dat": b"no entry here\r\n",
        "empty.dat": b"",
    }
    for fname, data in variants.items():
        (tmp_path / fname).write_bytes(data)
        files.append(tmp_path / fname)
    import gzip

    (tmp_path / "crlf.dat.gz").write_bytes(gzip.compress(variants["crlf.dat"]))
    files.append(tmp_path / "crlf.dat.gz")
    for f in files:
        compiled, text = _both_cuts(f, monkeypatch)
        assert compiled == text, f
    monkeypatch.setattr(flat_pieces, "_CHUNK", 7)  # reads that end inside "\r\n", "\nID   ", UTF-8
    for f in files[:1] + [tmp_path / name for name in variants]:
        compiled, text = _both_cuts(f, monkeypatch)
        assert compiled == text, f
    rng = random.Random(7)  # generated files, cut across every kind of read boundary
    parts = [b"\nID   ", b"\nID  ", b"ID   ", b"\n", b"\r\n", b"\r", b"\n\n", b"x", b" ", "é".encode(), b"\xff",
             b"\nIDX  ", b"//\n"]  # fmt: skip
    generated = tmp_path / "generated.dat"
    for _ in range(500):
        generated.write_bytes(b"".join(rng.choice(parts) for _ in range(rng.randint(0, 30))))
        monkeypatch.setattr(flat_pieces, "_CHUNK", rng.choice([1, 2, 3, 5, 8, 1 << 22]))
        compiled, text = _both_cuts(generated, monkeypatch)
        assert compiled == text, generated.read_bytes()


def test_entries_of_the_compiled_reader_are_whole_records():
    """_entry_of fills the record's __dict__ directly: every field, nothing else, equal and
    pickled alike to the record its __init__ makes."""
    import dataclasses
    import pickle

    for t in _entry_texts():
        fields = uniprot._c_fields(t, SKIPPED_TOPICS)
        if fields is None:
            continue
        fast = uniprot._entry_of(fields, "f:1")
        built = uniprot.ProteinEntry(**{f.name: getattr(fast, f.name) for f in dataclasses.fields(fast)})
        assert list(vars(fast)) == [f.name for f in dataclasses.fields(uniprot.ProteinEntry)]
        assert fast == built and pickle.loads(pickle.dumps(fast)) == built and fast.source == "f:1"
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.entry_name = "x"
