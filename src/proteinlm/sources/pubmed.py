"""PubMed/MEDLINE baseline and update files (`pubmed25n0001.xml[.gz]`) -> `Article`.

Both roots are read: `PubmedArticleSet` (2017 on: `PubmedArticle` wrapping `MedlineCitation` and
`PubmedData`) and the older `MedlineCitationSet` (bare `MedlineCitation`). `DeleteCitation` blocks
(update files list the PMIDs withdrawn since the last file) become `Article(deleted=True)` so that
a build can drop earlier copies; `include_deleted=False` leaves them out.

What is kept, and why:

* every `Abstract/AbstractText` as its own `Section`, titled by its `Label` (falling back to
  `NlmCategory`; "" when neither). Structured abstracts are split in BACKGROUND/METHODS/... parts,
  and keeping only the first would lose most of the text.
* `OtherAbstract` is left out: it is a publisher's second abstract, often a translation of the
  main one or in another language, so it would duplicate text or mix languages in pretraining.
* text of elements with inline markup (`<i>`, `<sup>`, `<sub>`, `<b>`, MathML) is the
  concatenation of all its text nodes (`H<sub>2</sub>O` -> "H2O"), whitespace collapsed.
* `PubmedBookArticle` (NCBI Bookshelf chapters) is skipped: it has a different shape and is not
  a journal citation.

Like the UniProt XML reader, parsing streams with lxml's `iterparse` and frees every record and
the records before it, resolves no entities, never loads the DTD the files declare (it would be a
network fetch per file) and never touches the network. A record without a PMID is reported
through `on_error`; a file that is not well-formed, truncated or missing raises `SourceError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from lxml import etree

from proteinlm.errors import RecordError, SourceError
from proteinlm.records import Article, Section
from proteinlm.sources.text import READ_ERRORS, BadRecord, OnError, open_binary

_TAGS = ("PubmedArticle", "MedlineCitation", "DeleteCitation", "PubmedBookArticle")
# MedlineDate is free text ("1998 Dec-1999 Jan", "Winter 2005"): its first 4-digit number is the
# year.
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")


def parse(
    path: str | Path, *, on_error: OnError | None = None, include_deleted: bool = True
) -> Iterator[Article]:
    """Stream the citations of a PubMed/MEDLINE XML file (gzip-aware, by magic bytes)."""
    name = str(path)
    with open_binary(path) as fh:
        events = etree.iterparse(
            fh,
            events=("end",),
            tag=_TAGS,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,  # the DOCTYPE names an https URL: never fetch it
            remove_comments=True,
            remove_pis=True,
            # huge_tree stays off: libxml2's limits guard against decompression bombs, and no
            # abstract comes near 10 MB of text.
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
            tag = elem.tag
            parent = elem.getparent()
            if tag == "MedlineCitation" and parent is not None and parent.tag == "PubmedArticle":
                continue  # read (and freed) with its PubmedArticle, which also holds PubmedData
            where = f"{name}:{elem.sourceline}"
            out: list[Article] = []
            error: str | None = None
            if tag == "DeleteCitation":
                if include_deleted:
                    out = [_deleted(p, name) for p in elem.iterchildren("PMID")]
            elif tag != "PubmedBookArticle":
                try:
                    out = [_article(elem, where)]
                except (BadRecord, ValueError, TypeError, AttributeError) as exc:
                    error = str(exc) if isinstance(exc, BadRecord) else f"malformed record ({exc})"
            # free the record and everything parsed before it, so memory stays flat
            elem.clear(keep_tail=True)
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
            if error is not None:
                err = RecordError(f"{where}: {error}")
                if on_error is None:
                    raise err
                on_error(err)
            yield from out


def _text(elem: etree._Element | None) -> str:
    """All text under `elem` (inline markup flattened), whitespace collapsed; "" for None."""
    if elem is None:
        return ""
    if len(elem) == 0:  # the common case, no markup: skip itertext's generator
        return " ".join(elem.text.split()) if elem.text else ""
    return " ".join("".join(elem.itertext()).split())


def _deleted(pmid_el: etree._Element, name: str) -> Article:
    pmid = _text(pmid_el)
    return Article(
        id=f"pmid:{pmid}", title="", sections=(), pmid=pmid, deleted=True,
        source=f"{name}:{pmid_el.sourceline}",
    )


def _article(elem: etree._Element, where: str) -> Article:
    """One `PubmedArticle` or bare `MedlineCitation` -> Article."""
    cit = elem if elem.tag == "MedlineCitation" else elem.find("MedlineCitation")
    if cit is None:
        raise BadRecord("no <MedlineCitation>")
    pmid = _text(cit.find("PMID"))
    if not pmid:
        raise BadRecord("no <PMID>")
    if not pmid.isdigit():
        raise BadRecord(f"PMID {pmid!r} is not a number")
    art = cit.find("Article")
    if art is None:  # every citation has one; without it there is no title or abstract
        raise BadRecord(f"no <Article>, PMID {pmid}")

    title = _text(art.find("ArticleTitle")) or _text(art.find("VernacularTitle"))
    sections = []
    for a in art.iterfind("Abstract/AbstractText"):
        text = _text(a)
        if text:
            label = a.get("Label") or a.get("NlmCategory") or ""
            sections.append(Section(title=" ".join(label.split()), text=text))

    journal = art.find("Journal")
    journal_name = None
    if journal is not None:
        journal_name = _text(journal.find("Title")) or _text(journal.find("ISOAbbreviation"))

    # ArticleIdList of PubmedData holds the DOI and PMCID; older MedlineCitation files lack it.
    ids: dict[str, str] = {}
    for a in elem.iterfind("PubmedData/ArticleIdList/ArticleId"):
        ids.setdefault(a.get("IdType", ""), _text(a))
    doi = next(
        (_text(e) for e in art.iterfind("ELocationID") if e.get("EIdType") == "doi" and _text(e)),
        ids.get("doi") or None,
    )
    language = next((t for t in map(_text, art.iterfind("Language")) if t), None)
    mesh = [_text(d) for d in cit.iterfind("MeshHeadingList/MeshHeading/DescriptorName")]
    # a citation may carry several KeywordLists (NLM's and the author's): keep all, once each
    keywords = [_text(k) for k in cit.iterfind("KeywordList/Keyword")]

    return Article(
        id=f"pmid:{pmid}",
        title=title,
        sections=tuple(sections),
        pmid=pmid,
        pmcid=ids.get("pmc") or None,
        doi=doi,
        journal=journal_name or None,
        year=_year(art),
        language=language,
        mesh_terms=tuple(m for m in mesh if m),
        keywords=tuple(dict.fromkeys(k for k in keywords if k)),
        source=where,
    )


def _year(art: etree._Element) -> int | None:
    """PubDate/Year, else MedlineDate's first year, else the electronic ArticleDate's year."""
    pub = art.find("Journal/JournalIssue/PubDate")
    candidates = []
    if pub is not None:
        candidates += [_text(pub.find("Year")), _text(pub.find("MedlineDate"))]
    candidates.append(_text(art.find("ArticleDate/Year")))
    for c in candidates:
        m = _YEAR.search(c)
        if m:
            return int(m.group())
    return None
