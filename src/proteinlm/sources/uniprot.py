"""UniProtKB entries from the Swiss-Prot flat file, UniProt XML and UniProt REST TSV downloads.

All three parsers stream and give equal `ProteinEntry` values for the same entry (except `source`).
Naming rules, shared by every format:

* `recommended_name`: RecName Full= (XML recommendedName/fullName); SubName Full= when there is
  none; pre-2008 DE lines and TSV "Protein names": the text before the parenthesised alternatives.
* `alternative_names`, in file order: the RecName Short= names, then each AltName's Full= and
  Short=, then Allergen=/Biotech=/CD_antigen=/INN= names. Names of Contains:/Includes: components
  are left out. `ec_numbers` hold every DE EC= number, components included, without duplicates.
* `gene_names`: per gene, Name= then Synonyms=, OrderedLocusNames=, ORFNames= (XML name types
  primary, synonym, ordered locus, ORF).
* `organism`: the OS line without its final period, i.e. "Homo sapiens (Human)"; XML gives the
  scientific name followed by each other name in parentheses, which is how OS is written.
* `go_terms`, `pdb_ids` and `keywords` are sorted (the formats list them in different orders);
  `pubmed_ids` keep the order of the references.
* `comments`: see `text.py` for the cleaning. Topics whose content is a table rather than prose
  (`SKIPPED_TOPICS`) are left out: their XML form shares no wording with the flat file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from proteinlm.compiled import compiled
from proteinlm.records import ProteinEntry
from proteinlm.sources.flat_pieces import _guess_acc, flat_pieces, piece_accession
from proteinlm.sources.text import (
    SKIPPED_TOPICS,
    BadRecord,
    OnError,
    clean_comments,
    join_wrapped,
    parse_protein_names,
    report,
    strip_evidence,
)
from proteinlm.sources.uniprot_tsv import parse_tsv
from proteinlm.sources.uniprot_xml import parse_xml

# the compiled reader of flat-file fields (_flatfile.c); absent where it was built without a
# compiler, and left unused with PROTEINLM_PURE_PYTHON=1: the Python reader below does the same work
_c_fields = compiled("entry_fields")

_REVIEWED = ("Reviewed", "STANDARD")  # "STANDARD" is the pre-2006 name of a Swiss-Prot entry
_GENE_KEYS = {"Name": 0, "Synonyms": 1, "OrderedLocusNames": 2, "ORFNames": 3}
_NAME_KEYS = ("Short", "Allergen", "Biotech", "CD_antigen", "INN")


def parse(
    path: str | Path, *, fmt: str | None = None, on_error: OnError | None = None
) -> Iterator[ProteinEntry]:
    """Stream the entries of a UniProtKB file; `fmt` ("flat", "xml", "tsv") defaults to the suffix
    (.dat/.txt/no suffix: flat, .xml: xml, .tsv: tsv, each optionally .gz)."""
    fmt = fmt or guess_format(path)
    parser = {"flat": parse_flat, "dat": parse_flat, "xml": parse_xml, "tsv": parse_tsv}.get(fmt)
    if parser is None:
        raise ValueError(f"unknown UniProt format {fmt!r} (flat, xml or tsv)")
    return parser(path, on_error)


def guess_format(path: str | Path) -> str:
    name = Path(path).name.lower()
    for ext in (".gz", ".gzip"):
        name = name.removesuffix(ext)
    suffix = Path(name).suffix
    if suffix == ".xml":
        return "xml"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    return "flat"


# --------------------------------------------------------------------------- flat file


def parse_flat(path: str | Path, on_error: OnError | None = None) -> Iterator[ProteinEntry]:
    """Stream a Swiss-Prot/UniProtKB flat file (.dat, .txt, old releases; gzip-aware)."""
    name = str(path)
    for text, line in flat_pieces(path):
        entry = parse_flat_piece(text, name, line, on_error)
        if entry is not None:
            yield entry


def parse_flat_piece(text: str, name: str, line: int, on_error: OnError | None) -> ProteinEntry | None:
    """Parse one piece of `flat_pieces` (from file `name`, starting at `line`); a malformed entry
    is reported through `on_error` (raised if None) and gives None."""
    if not text.startswith("ID   "):  # only the first piece of a file: blank lines or junk
        stripped = text.lstrip()
        if not stripped:
            return None
        if not stripped.startswith("ID   "):
            report(on_error, f"{name}:{line}", "text before the first ID line", _guess_acc(text))
            return None
        line += text[: len(text) - len(stripped)].count("\n")
        text = stripped
    where = f"{name}:{line}"
    if text.endswith("\n//\n"):
        t, end = text, len(text) - 3  # the entry is text[:end]: the C reader reads it without a copy
    else:  # blank lines after "//", no final newline, or no "//" at all
        t = text.rstrip()
        if not t.endswith("\n//"):
            report(on_error, where, "entry does not end with a // line", _guess_acc(text))
            return None
        t, end = t[:-2], len(t) - 2
    try:
        if _c_fields is not None and (fields := _c_fields(t, SKIPPED_TOPICS, end)) is not None:
            return _entry_of(fields, where)
        t = t[:end]
        return _flat_entry(t, where)  # also where the C reader declines: non-ASCII text, old formats, errors
    except BadRecord as exc:
        report(on_error, where, str(exc), _guess_acc(t))
    except (ValueError, IndexError, KeyError) as exc:
        report(on_error, where, f"malformed line ({exc})", _guess_acc(t))
    return None


def _block(t: str, code: str, start: int) -> list[str]:
    """Bodies (from column 6) of the run of consecutive lines whose code is `code` (given as
    "\nXX   ") starting at or after `start`."""
    i = t.find(code, start)
    out = []
    while i >= 0 and t.startswith(code, i):
        j = t.find("\n", i + 1)
        out.append(t[i + 6 : j])
        i = j
    return out


def _first(t: str, codes: tuple[str, ...], start: int, default: int) -> int:
    """Position of the first of `codes` found after `start` (codes in file order), else default."""
    for code in codes:
        i = t.find(code, start)
        if i >= 0:
            return i
    return default


# Line codes of the entry header (before the references), read by a plain line loop.
_HEADER = ("ID", "AC", "DT", "DE", "GN", "OS", "OG", "OC", "OX", "OH")
_HEADER_END = re.compile(r"\n(?!%s)" % "|".join(_HEADER))
_AFTER_CC = ("\nDR   ", "\nPE   ", "\nKW   ", "\nFT   ", "\nSQ   ")
_PUBMED = re.compile(r"PubMed=(\w+)")
_DR_ID = re.compile(r"\nDR   \w+; ([^;\n]+);")


def _ids(t: str, code: str, start: int, end: int) -> list[str]:
    """Identifiers of the DR lines of one database (they are consecutive) between start and end."""
    first = t.find(code, start, end)
    if first < 0:
        return []
    last = t.rfind(code, first, end)
    return _DR_ID.findall(t, first, t.find("\n", last + 1))


def _flat_entry(t: str, where: str) -> ProteinEntry:
    """One entry ("ID" line to the line before "//", ending in a newline) -> ProteinEntry.

    The header lines are few and read one by one; the big sections (references, comments,
    cross-references, sequence) are located with str.find and read as whole slices, so most of
    the work happens in C. The few regexes here run once per section and each starts with a
    literal, which the regex engine scans for as fast as str.find; they measured faster than a
    Python loop over the lines."""
    end = _HEADER_END.search(t)
    if end is None:
        raise BadRecord("nothing after the header lines")
    body = end.start()  # the "\n" that ends the header
    lines: dict[str, list[str]] = {c: [] for c in _HEADER}
    for row in t[:body].split("\n"):
        lines[row[:2]].append(row[5:])
    cols = t[5 : t.find("\n")].split()
    if len(cols) < 3:
        raise BadRecord("malformed ID line")
    accessions = tuple(a for a in "".join(lines["AC"]).replace(" ", "").split(";") if a)
    if not accessions:
        raise BadRecord("no AC line")
    rec, alts, ecs = _parse_de(lines["DE"])
    organism = " ".join(s.strip() for s in lines["OS"])
    organism = (organism[:-1] if organism.endswith(".") else organism) or None
    taxon = None
    if lines["OX"]:
        taxon = int(lines["OX"][0].partition("=")[2].split(";")[0].split("{")[0].split(",")[0])

    sq = t.rfind("\nSQ   ", body)  # near the end: rfind reads only the sequence
    if sq < 0:
        raise BadRecord("no SQ line")
    cc = t.find("\nCC   ", body, sq)
    refs_end = cc if cc >= 0 else _first(t, _AFTER_CC, body, sq)
    pubmed = _PUBMED.findall(t, body, refs_end)
    dr = _first(t, _AFTER_CC, cc, sq) if cc >= 0 else refs_end
    comments = _parse_cc(t[cc:dr]) if cc >= 0 else {}
    kw_at = t.find("\nKW   ", dr, sq)
    dr_end = kw_at if kw_at >= 0 else sq
    go = _ids(t, "\nDR   GO; ", dr, dr_end)
    pdb = _ids(t, "\nDR   PDB; ", dr, dr_end)
    kw = " ".join(_block(t, "\nKW   ", kw_at)).strip() if kw_at >= 0 else ""
    kw = strip_evidence(kw[:-1] if kw.endswith(".") else kw)
    keywords = sorted(k.strip() for k in kw.split(";") if k.strip())

    eol = t.find("\n", sq + 1)
    sq_cols = t[sq + 6 : eol].split()
    seq = "".join(t[eol + 1 :].split())
    if len(sq_cols) < 2 or not sq_cols[1].isdigit():
        raise BadRecord("malformed SQ line")
    if len(seq) != int(sq_cols[1]):
        raise BadRecord(f"sequence has {len(seq)} residues, SQ line says {sq_cols[1]}")
    return ProteinEntry(
        accessions=accessions,
        entry_name=cols[0],
        sequence=seq,
        reviewed=cols[1].rstrip(";") in _REVIEWED,
        recommended_name=rec,
        alternative_names=tuple(alts),
        gene_names=_parse_gn(lines["GN"]),
        organism=organism,
        taxon_id=taxon,
        comments=comments,
        ec_numbers=tuple(dict.fromkeys(ecs)),
        keywords=tuple(keywords),
        go_terms=tuple(sorted(go)),
        pubmed_ids=tuple(pubmed),
        pdb_ids=tuple(sorted(pdb)),
        source=where,
    )


def _entry_of(fields: tuple, where: str) -> ProteinEntry:
    """The entry of the C reader's fields (the same values `_flat_entry` computes; comments are
    cleaned here, by the code the XML and TSV parsers share)."""
    accs, name, reviewed, rec, alts, ecs, genes, organism, taxon, topics, texts, kws, go, pubmed, pdb, seq = fields
    # the frozen dataclass's __init__ sets each field through object.__setattr__ (~2 us an entry);
    # filling __dict__ at once gives the same object (as copy and pickle do)
    entry = _new_object(ProteinEntry)
    entry.__dict__.update(
        accessions=accs,
        entry_name=name,
        sequence=seq,
        reviewed=reviewed,
        recommended_name=rec,
        alternative_names=alts,
        gene_names=genes,
        organism=organism,
        taxon_id=taxon,
        comments=_comments(topics, texts),
        ec_numbers=ecs,
        keywords=kws,
        go_terms=go,
        pubmed_ids=pubmed,
        pdb_ids=pdb,
        source=where,
    )
    return entry


_new_object = object.__new__


def _parse_de(lines: list[str]) -> tuple[str | None, list[str], list[str]]:
    """DE lines -> (recommended name, alternative names, EC numbers); see the module docstring."""
    if lines and not lines[0].startswith(("RecName:", "SubName:", "AltName:", "Flags:")):
        old = " ".join(join_wrapped("\n".join(s.strip() for s in lines)).split())
        return parse_protein_names(old)  # pre-2008 format
    rec: str | None = None
    alts: list[str] = []
    ecs: list[str] = []
    group, top = "", True
    for body in lines:
        s = body.lstrip()
        head, sep, rest = s.partition(": ")
        if head in ("RecName", "AltName", "SubName"):
            group, top, s = head, len(body) == len(s), rest
        elif s.startswith(("Contains:", "Includes:", "Flags:")):
            group, top = "", False
            continue
        key, eq, value = s.partition("=")
        if not eq:
            continue
        value = strip_evidence(value.rstrip().removesuffix(";"))
        if key == "EC":
            ecs.append(value)
        elif not top or not value:
            continue
        elif key == "Full" and group != "AltName" and rec is None:
            rec = value
        elif key == "Full" or key in _NAME_KEYS:
            alts.append(value)
    return rec, alts, ecs


def _parse_gn(lines: list[str]) -> tuple[str, ...]:
    """GN lines -> names, per gene Name, Synonyms, OrderedLocusNames, ORFNames ("and" separates
    genes). The pre-2005 form "GN   FOS OR G0S7." is split on OR/AND."""
    genes: list[list[str]] = [[]]
    for body in lines:
        if body.strip() == "and":
            genes.append([])
        else:
            genes[-1].append(body.strip())
    names: list[str] = []
    for gene in genes:
        text = strip_evidence(" ".join(gene))
        if not text:
            continue
        if "=" not in text:  # pre-2005 format
            for token in text.rstrip(".").replace("(", " ").replace(")", " ").split():
                if token not in ("OR", "AND"):
                    names.append(token)
            continue
        ranked: list[tuple[int, str]] = []
        for token in text.split(";"):
            key, _, value = token.strip().partition("=")
            if key in _GENE_KEYS:
                ranked.extend((_GENE_KEYS[key], v.strip()) for v in value.split(",") if v.strip())
        names.extend(v for _, v in sorted(ranked, key=lambda r: r[0]))
    return tuple(names)


# A CC line that ends inside a hyphenated word ("non-" + "covalently"): glue the next line on.
# Starts with the literal "-" so that the regex engine can skip between candidates.
_CC_HYPHEN_WRAP = re.compile(r"-(?<=[^\s-]-)\nCC {7,}(?!(?:and|or|nor|to)\b)")


def _parse_cc(region: str) -> dict[str, tuple[str, ...]]:
    """The CC lines (one slice) -> {topic: cleaned texts}."""
    return _comments(*_cc_topics(region))


def _cc_topics(region: str) -> tuple[list[str], list[str]]:
    """The CC lines (one slice) -> (topics, raw one-line texts); the copyright banner and skipped
    topics are dropped. Line prefixes and hyphen wraps are removed on the whole slice at once."""
    banner = region.find("\nCC   ---")
    if banner >= 0:
        region = region[:banner]
    if "-\nCC " in region:
        region = _CC_HYPHEN_WRAP.sub("-", region)
    region = region.replace("\nCC       ", " ")  # continuation lines
    topics, texts = [], []
    for chunk in region.split("\nCC   -!- ")[1:]:
        topic, _, text = chunk.partition(":")
        topic = topic.strip()
        if topic not in SKIPPED_TOPICS:
            topics.append(topic)
            texts.append(text.replace("\nCC   ", " ") if "\n" in text else text)
    return topics, texts


def _comments(topics: list[str], texts: list[str]) -> dict[str, tuple[str, ...]]:
    """{topic: cleaned non-empty texts}, topics in file order."""
    cleaned = clean_comments(topics, texts)
    comments: dict[str, list[str]] = {}
    for topic, text in zip(topics, cleaned):
        if text:
            comments.setdefault(topic, []).append(text)
    return {k: tuple(v) for k, v in comments.items()}


__all__ = [
    "SKIPPED_TOPICS", "flat_pieces", "guess_format", "parse", "parse_flat", "parse_flat_piece", "parse_tsv",
    "parse_xml", "piece_accession",
]
