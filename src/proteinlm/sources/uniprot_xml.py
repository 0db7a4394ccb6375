"""UniProt XML (`uniprot_sprot.xml[.gz]`) -> `ProteinEntry`, equal to what the flat file gives.

lxml's `iterparse` delivers one `<entry>` at a time; each is converted then cleared, together with
its already-parsed siblings, so memory stays flat on multi-GB files. The parser resolves no
entities, loads no DTD and never touches the network (the XML comes from downloads). An entry that
is well-formed but unusable (no accession, no sequence, wrong length) is reported through
`on_error`; a file that is not well-formed stops with a `SourceError` — XML cannot be resumed past
a syntax error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lxml import etree

from proteinlm.errors import SourceError
from proteinlm.records import ProteinEntry
from proteinlm.sources.text import (
    READ_ERRORS,
    SKIPPED_TOPICS,
    BadRecord,
    OnError,
    clean_comment,
    open_binary,
    report,
)

NS = "{http://uniprot.org/uniprot}"
_ENTRY = NS + "entry"
_GENE_RANK = {"primary": 0, "synonym": 1, "ordered locus": 2, "ORF": 3}
_OTHER_NAMES = ("allergenName", "biotechName", "cdAntigenName", "innName")
# Second-level subcellular locations are lower-cased in the flat file ("Secreted, extracellular
# space") except acronyms and names of people ("Nucleus, Cajal body").
_PROPER = frozenset({"Golgi", "Cajal", "Weibel-Palade", "Lewy", "Hirano", "Russell", "Balbiani"})


def parse_xml(path: str | Path, on_error: OnError | None = None) -> Iterator[ProteinEntry]:
    """Stream the entries of a UniProt XML file (gzip-aware)."""
    name = str(path)
    with open_binary(path) as fh:
        events = etree.iterparse(
            fh,
            events=("end",),
            tag=_ENTRY,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            remove_comments=True,
            remove_pis=True,
            # huge_tree stays off: libxml2's size limits (10 MB per text node) guard against
            # decompression bombs, and the longest UniProt sequence (titin, ~35k residues) is far
            # below them.
        )
        it = iter(events)
        while True:
            try:
                _, elem = next(it)
            except StopIteration:
                return
            except etree.XMLSyntaxError as exc:
                raise SourceError(f"{name}: not well-formed XML: {exc}") from exc
            except READ_ERRORS as exc:
                raise SourceError(f"{name}: cannot read (truncated or corrupt?): {exc}") from exc
            where = f"{name}:{elem.sourceline}"
            try:
                entry: ProteinEntry | None = _entry(elem, where)
            except (BadRecord, ValueError, TypeError, AttributeError) as exc:
                entry = None
                acc = elem.findtext(NS + "accession")
                reason = str(exc) if isinstance(exc, BadRecord) else f"malformed entry ({exc})"
            # free the entry and everything parsed before it
            elem.clear(keep_tail=True)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
            if entry is None:
                report(on_error, where, reason, acc)
            else:
                yield entry


def _texts(elem: etree._Element, tag: str) -> list[str]:
    return [" ".join(t.text.split()) for t in elem.iterchildren(NS + tag) if t.text]


def _entry(e: etree._Element, where: str) -> ProteinEntry:
    accessions = tuple(_texts(e, "accession"))
    if not accessions:
        raise BadRecord("no <accession>")
    entry_name = e.findtext(NS + "name")
    if not entry_name:
        raise BadRecord("no <name>")
    seq_el = e.find(NS + "sequence")
    if seq_el is None or not seq_el.text:
        raise BadRecord("no <sequence>")
    seq = "".join(seq_el.text.split())
    length = seq_el.get("length")
    if length is not None and int(length) != len(seq):
        raise BadRecord(f"sequence has {len(seq)} residues, length attribute says {length}")

    rec, alts, ecs = _names(e.find(NS + "protein"))
    organism, taxon = _organism(e.find(NS + "organism"))
    genes: list[str] = []
    for gene in e.iterchildren(NS + "gene"):
        ranked = [  # the index keeps file order among names of the same type
            (_GENE_RANK.get(n.get("type", ""), 4), i, n.text.strip())
            for i, n in enumerate(gene.iterchildren(NS + "name"))
            if n.text and n.text.strip()
        ]
        genes.extend(v for _, _, v in sorted(ranked))
    pubmed = [
        d.get("id", "")
        for ref in e.iterchildren(NS + "reference")
        for cit in ref.iterchildren(NS + "citation")
        for d in cit.iterchildren(NS + "dbReference")
        if d.get("type") == "PubMed"
    ]
    go, pdb = [], []
    for d in e.iterchildren(NS + "dbReference"):
        kind = d.get("type")
        if kind == "GO":
            go.append(d.get("id", ""))
        elif kind == "PDB":
            pdb.append(d.get("id", ""))
        elif kind == "EC":  # releases before 2011 list EC numbers here rather than in <protein>
            ecs.append(d.get("id", ""))
    return ProteinEntry(
        accessions=accessions,
        entry_name=entry_name.strip(),
        sequence=seq,
        reviewed=e.get("dataset") == "Swiss-Prot",
        recommended_name=rec,
        alternative_names=tuple(alts),
        gene_names=tuple(genes),
        organism=organism,
        taxon_id=taxon,
        comments=_comments(e),
        ec_numbers=tuple(dict.fromkeys(ecs)),
        keywords=tuple(sorted(_texts(e, "keyword"))),
        go_terms=tuple(sorted(go)),
        pubmed_ids=tuple(pubmed),
        pdb_ids=tuple(sorted(pdb)),
        source=where,
    )


def _names(protein: etree._Element | None) -> tuple[str | None, list[str], list[str]]:
    """<protein> -> (recommended name, alternative names, EC numbers), the flat-file rules."""
    rec: str | None = None
    alts: list[str] = []
    ecs: list[str] = []
    if protein is None:
        return rec, alts, ecs
    for child in protein.iterchildren(tag=etree.Element):
        kind = etree.QName(child).localname
        if kind in ("component", "domain"):  # names of parts are not the protein's names
            ecs.extend(_texts_deep(child, "ecNumber"))
            continue
        if kind in _OTHER_NAMES:
            alts.append(" ".join((child.text or "").split()))
            continue
        for item in child.iterchildren(tag=etree.Element):
            part = etree.QName(item).localname
            text = " ".join((item.text or "").split())
            if part == "ecNumber":
                ecs.append(text)
            elif part == "fullName" and kind != "alternativeName" and rec is None:
                rec = text
            elif text and part in ("fullName", "shortName"):
                alts.append(text)
    return rec, [a for a in alts if a], ecs


def _texts_deep(elem: etree._Element, tag: str) -> list[str]:
    return [" ".join(t.text.split()) for t in elem.iter(NS + tag) if t.text]


def _organism(org: etree._Element | None) -> tuple[str | None, int | None]:
    if org is None:
        return None, None
    names = [
        (n.get("type"), " ".join(n.text.split())) for n in org.iterchildren(NS + "name") if n.text
    ]
    sci = [n for t, n in names if t == "scientific"]
    others = [n for t, n in names if t != "scientific"]
    organism = " ".join(sci[:1] + [f"({n})" for n in others]) or None
    taxon = None
    for d in org.iterchildren(NS + "dbReference"):
        if d.get("type") == "NCBI Taxonomy":
            taxon = int(d.get("id", ""))
            break
    return organism, taxon


def _comments(e: etree._Element) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for c in e.iterchildren(NS + "comment"):
        kind = c.get("type", "")
        topic = "WEB RESOURCE" if kind == "online information" else kind.upper()
        if topic in SKIPPED_TOPICS:
            continue
        builder = _BUILDERS.get(topic)
        raw = builder(c) if builder else " ".join(_texts(c, "text"))
        molecule = c.findtext(NS + "molecule")
        if molecule:
            raw = f"[{molecule.strip()}]: {raw}"
        text = clean_comment(topic, raw)
        if text:
            out.setdefault(topic, []).append(text)
    return {k: tuple(v) for k, v in out.items()}


def _with_note(raw: str, c: etree._Element) -> str:
    note = " ".join(_texts(c, "text"))
    return f"{raw} Note={note}" if raw and note else raw or note


def _reaction(c: etree._Element) -> str:
    """Rebuild the flat-file `Reaction=...; EC=...;` so that `clean_comment` words both alike."""
    r = c.find(NS + "reaction")
    if r is None:
        return " ".join(_texts(c, "text"))
    raw = f"Reaction={' '.join((r.findtext(NS + 'text') or '').split())};"
    for d in r.iterchildren(NS + "dbReference"):
        if d.get("type") == "EC":
            return f"{raw} EC={d.get('id')};"
    return raw


def _cofactor(c: etree._Element) -> str:
    names = [cf.findtext(NS + "name") or "" for cf in c.iterchildren(NS + "cofactor")]
    return _with_note(" ".join(f"Name={' '.join(n.split())};" for n in names if n.strip()), c)


def _lower_first(loc: str) -> str:
    if len(loc) > 1 and loc[1].islower() and loc.split()[0] not in _PROPER:
        return loc[0].lower() + loc[1:]
    return loc


def _subcellular(c: etree._Element) -> str:
    """"Location, sublocation; Topology; Orientation." per <subcellularLocation>, then the note."""
    sentences = []
    for sl in c.iterchildren(NS + "subcellularLocation"):
        locs = _texts(sl, "location")
        pieces = [", ".join(locs[:1] + [_lower_first(x) for x in locs[1:]])] if locs else []
        pieces += _texts(sl, "topology") + _texts(sl, "orientation")
        if pieces:
            sentences.append("; ".join(pieces) + ".")
    return _with_note(" ".join(sentences), c)


def _disease(c: etree._Element) -> str:
    """"Name (ACRONYM): description." then the note, as the flat file words it."""
    d = c.find(NS + "disease")
    if d is None:
        return " ".join(_texts(c, "text"))
    name = " ".join((d.findtext(NS + "name") or "").split())
    acronym = d.findtext(NS + "acronym")
    description = " ".join((d.findtext(NS + "description") or "").split())
    head = f"{name} ({acronym.strip()})" if acronym else name
    return _with_note(f"{head}: {description}" if description else head, c)


_BUILDERS = {
    "CATALYTIC ACTIVITY": _reaction,
    "COFACTOR": _cofactor,
    "SUBCELLULAR LOCATION": _subcellular,
    "DISEASE": _disease,
}
