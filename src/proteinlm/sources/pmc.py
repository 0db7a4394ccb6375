"""PMC Open Access full text (JATS `.nxml`/`.xml`, bulk `.tar.gz` packages) -> `Article` records.

Input: one article file or a tar package (each plain or gzipped, told by magic bytes; tar members
streamed, only `.nxml`/`.xml` parsed). XML is parsed with no entity resolution, no DTD and no
network: every JATS file declares a DOCTYPE whose DTD must never be fetched.

What an `Article` holds:
* `id` "pmc:PMC123" from `article-id` pub-id-type "pmc"/"pmcid" (or, failing both, a "PMC123"
  in the archive member's name, as bulk packages name them); pmid, doi, journal, language
  (`xml:lang`), keywords (`kwd`, or `mesh_terms` for a kwd-group typed MeSH);
* `year`: the print date, else the collection/issue date, else the electronic one;
* sections: the abstract, "Abstract" (structured: "Abstract / Background", ...; an author summary
  under its own title; graphical/teaser/TOC and translated abstracts skipped as duplicates); body
  paragraphs outside any `sec`, titled ""; then one Section per `sec`, its own paragraphs (lists
  and boxes included) joined by "\\n\\n", nested `sec`s flattened depth first under their path:
  "Results" (the parent's own paragraphs), "Results / Binding assay". Empty sections are left out.

Dropped: tables, figures, formulas (display, inline, MathML, TeX), supplementary material,
footnotes, graphics/media, the whole `back` (references, acknowledgements, appendices).
Citations: `xref ref-type="bibr"` go when numeric ("[1]", "1-3") or parenthetical ("(Smith 2000;
Jones 2001)"), with the separators between consecutive ones and the brackets left empty ("[1, 2]",
"[3-5]", "(1)", "()", "(see )"). A narrative author-year citation ("as shown by Smith et al. (2005)
...") keeps its text: removing it would leave a sentence without its subject. Other xrefs keep
their text ("Figure 2", "Text S1": prose refers to them) except footnote/affiliation markers.
Whitespace is collapsed and no space is left before punctuation.
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from pathlib import Path
from typing import Callable, Iterator

from lxml import etree

from proteinlm.errors import RecordError, SourceError
from proteinlm.records import Article, Section

__all__ = ["parse", "parse_article"]

OnError = Callable[[RecordError], None]
_READ_ERRORS = (OSError, EOFError, zlib.error, tarfile.TarError)
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Removed with their content (their tail text is kept: it is the sentence going on).
_MATH = "{http://www.w3.org/1998/Math/MathML}math"
_DROP = ("table-wrap", "table-wrap-group", "table", "fig", "fig-group", "disp-formula", "fn",
         "disp-formula-group", "inline-formula", "tex-math", _MATH, "supplementary-material",
         "table-wrap-foot", "ref-list", "graphic", "inline-graphic", "fn-group", "media",
         "alternatives", "object-id", "chem-struct-wrap")
_MARKER_XREFS = frozenset({"fn", "table-fn", "aff", "corresp", "author-notes"})
# Elements whose text must not run into the next word ("...end of item" + "Next item").
_BLOCKS = frozenset({"p", "list-item", "break", "title", "def-item", "term", "def", "disp-quote"})
_SKIPPED_ABSTRACTS = frozenset({"graphical", "teaser", "toc", "short", "web-summary"})

# between two citations of one run: ", ", "; ", "-", "–", " and "
_SEPARATORS = re.compile(r"^(?:[\s,;\-\u2010-\u2015\u2212]|\band\b)*$")
_LETTER = re.compile(r"[^\W\d_]")
# Brackets left empty (or holding ", ;" or a "see" that introduced the citations). Dashes alone do
# not count: "(-)-epicatechin" is a name, and dashes between citations went with them.
_EMPTY_BRACKETS = re.compile(
    r"\s*[\[(]\s*(?:(?:see also|see|e\.g\.|cf\.|reviewed in|for (?:a )?review,? see),?)?"
    r"[\s,;]*[\])]"
)
_AFTER_OPEN = re.compile(r"(?<=[(\[])\s*(?:[,;]\s*)?")  # "(; Fig. 2)" "( x" -> "(Fig. 2)" "(x"
_SEP_BEFORE_CLOSE = re.compile(r"\s*[,;]\s*(?=[)\]])")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+(?=[.,](?!\d)|[;:!?)\]])")  # not before ".05"
_PMCID_IN_NAME = re.compile(r"\b(PMC\d+)\.n?xml$")  # bulk packages name members PMC123.xml
_JOURNAL = "front/journal-meta//journal-title"  # inside journal-title-group since JATS 1.0


def parse(path: str | Path, *, on_error: OnError | None = None) -> Iterator[Article]:
    """Stream the articles of a JATS file (plain or gzipped) or of a (gzipped) tar package.

    A file or member that is not usable XML goes to `on_error` as a `RecordError` located
    "file[:member]: reason" (raised when `on_error` is None); a file that cannot be read at all
    (missing, truncated gzip, corrupt archive) raises `SourceError`.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
            block = fh.read(512)  # the POSIX/GNU tar magic sits at offset 257 of the first block
            data = None if block[257:262] == b"ustar" else block + fh.read()
    except _READ_ERRORS as exc:
        raise SourceError(f"{path}: cannot read (missing, truncated or corrupt?): {exc}") from exc
    if data is None:
        yield from _parse_tar(path, gzipped, on_error)
    else:
        yield from _article_or_report(data, str(path), on_error)


def _parse_tar(path: Path, gzipped: bool, on_error: OnError | None) -> Iterator[Article]:
    """Members in archive order, streamed: multi-GB packages are read once, front to back."""
    # GzipFile (not tarfile's own "r|gz") checks the gzip trailer, and draining it after the
    # end-of-archive block catches a file cut after its last member
    raw, tar = (gzip.open(path, "rb") if gzipped else open(path, "rb")), None
    with raw:
        while True:
            try:  # only the reading is guarded: errors from the consumer must not be relabelled
                if tar is None:  # opening reads the first header: guarded like the rest
                    tar = tarfile.open(fileobj=raw, mode="r|")
                member = tar.next()
                if member is None:
                    while raw.read(1 << 20):
                        pass
                    return
                data = None
                if member.isfile() and member.name.lower().endswith((".nxml", ".xml")):
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
            except _READ_ERRORS as exc:
                raise SourceError(f"{path}: cannot read archive (truncated?): {exc}") from exc
            tar.members = []  # a stream-mode TarFile keeps every TarInfo; packages hold ~10^5
            if data is not None:
                yield from _article_or_report(data, f"{path}:{member.name}", on_error)


def _article_or_report(data: bytes, source: str, on_error: OnError | None) -> Iterator[Article]:
    try:
        article = parse_article(data, source)
    except RecordError as err:
        if on_error is None:
            raise
        on_error(err)
        return
    yield article


def parse_article(xml_bytes: bytes, source: str) -> Article:
    """One JATS article -> `Article`; `RecordError` naming `source` if it is not usable."""
    try:
        # huge_tree stays off: libxml2's limits guard against decompression bombs
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 remove_comments=True, remove_pis=True)
        root = etree.fromstring(xml_bytes, parser)
    except etree.XMLSyntaxError as exc:
        raise RecordError(f"{source}: not well-formed XML: {exc}") from exc
    if not isinstance(root.tag, str) or etree.QName(root).localname != "article":
        raise RecordError(f"{source}: root element is not <article>")
    meta = root.find("front/article-meta")
    if meta is None:
        raise RecordError(f"{source}: no front/article-meta")
    ids = {a.get("pub-id-type"): _flat(a) for a in meta.findall("article-id")}
    m = _PMCID_IN_NAME.search(source)
    pmcid = ids.get("pmcid") or ids.get("pmc") or (m.group(1) if m else None)
    if not pmcid:
        raise RecordError(f"{source}: no PMC id (article-id pub-id-type pmc/pmcid)")
    pmcid = "PMC" + pmcid.upper().removeprefix("PMC")
    _prune(root)

    title_el = meta.find("title-group/article-title")
    mesh, keywords = [], []
    for group in meta.iter("kwd-group"):
        bucket = mesh if (group.get("kwd-group-type") or "").lower() == "mesh" else keywords
        bucket.extend(k for k in (_clean(_text(kwd)) for kwd in group.iter("kwd")) if k)
    body = root.find("body")
    sections = _abstracts(meta) + (_sections(body, "") if body is not None else [])
    return Article(
        id=f"pmc:{pmcid}", title=_clean(_text(title_el)) if title_el is not None else "",
        sections=tuple(sections), pmid=ids.get("pmid") or None, pmcid=pmcid,
        doi=ids.get("doi") or None, journal=_flat(root.find(_JOURNAL)) or None,
        year=_year(meta), language=root.get(_XML_LANG), mesh_terms=tuple(mesh),
        keywords=tuple(keywords), source=source,
    )


def _flat(el: etree._Element | None) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _year(meta: etree._Element) -> int | None:
    """Print, else collection/issue, else electronic, else any publication year."""
    dated = [(d, (d.findtext("year") or "").strip()) for d in meta.findall("pub-date")]
    dated = [(d, int(y)) for d, y in dated if y.isdigit()]
    for kind in ("ppub", "collection", "epub", "pub"):  # old `pub-type`, JATS 1.1+ `date-type`
        for d, year in dated:
            if kind in (d.get("pub-type"), d.get("date-type")):
                return year
    return dated[0][1] if dated else None


def _remove(el: etree._Element, sep: str = "") -> None:
    """Remove `el` and its content, keeping its tail text (after `sep`) in place."""
    parent, prev = el.getparent(), el.getprevious()
    if parent is None:
        return
    tail = sep + (el.tail or "")
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(el)  # lxml drops the tail together with the element


def _prune(root: etree._Element) -> None:
    """Drop what is not prose (see the module docstring), in place."""
    for el in list(root.iter(*_DROP)):
        # a space in its place: a display formula or figure sits between words ("written" + "in")
        _remove(el, " ")  # an element already inside a removed one is detached: harmless
    for el in list(root.iter("xref")):
        if el.get("ref-type") in _MARKER_XREFS:
            _remove(el)
    for parent in {x.getparent() for x in root.iter("xref") if x.get("ref-type") == "bibr"}:
        for run in _citation_runs(parent):
            if _removable(run):
                for el in run[:-1]:  # separators between citations go with them
                    el.tail = None
                for el in run:
                    _remove(el)


def _citation_runs(parent: etree._Element) -> list[list[etree._Element]]:
    """Consecutive bibr xrefs of `parent` separated only by ", ", "; ", dashes or "and"."""
    runs: list[list[etree._Element]] = [[]]
    for child in parent:
        if child.tag == "xref" and child.get("ref-type") == "bibr":
            runs[-1].append(child)
            if _SEPARATORS.match(child.tail or ""):
                continue  # the next sibling may carry on the run
        if runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def _removable(run: list[etree._Element]) -> bool:
    """Numeric citations always go; author-year ones only inside brackets (not narrative)."""
    if not any(_LETTER.search("".join(x.itertext())) for x in run):
        return True
    first, last = run[0], run[-1]
    prev = first.getprevious()
    before = (prev.tail if prev is not None else first.getparent().text) or ""
    after = (last.tail or "").lstrip()
    return before.rstrip().endswith(("(", "[", ";")) or after.startswith((")", "]", ";"))


def _text(el: etree._Element) -> str:
    """All text under `el`, with a space around block elements (list items, breaks)."""
    parts: list[str] = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):  # comments/PIs/entities carry no text of ours
            block = child.tag in _BLOCKS
            parts.extend((" " if block else "", _text(child), " " if block else ""))
        parts.append(child.tail or "")
    return "".join(parts)


def _clean(text: str) -> str:
    text = " ".join(text.split())
    for _ in range(2):  # nested leftovers: "([])" empties in two passes
        text = _EMPTY_BRACKETS.sub("", text)
    text = _SEP_BEFORE_CLOSE.sub("", _AFTER_OPEN.sub("", text))
    return _SPACE_BEFORE_PUNCT.sub("", text).strip()


def _collect(el: etree._Element, paragraphs: list[str], secs: list[etree._Element]) -> None:
    """The outermost `p` texts of `el` and its child `sec`s, looking through lists and boxes."""
    for child in el:
        if not isinstance(child.tag, str) or child.tag in ("title", "label"):
            continue
        if child.tag == "sec":
            secs.append(child)
        elif child.tag == "p":
            text = _clean(_text(child))
            if text:
                paragraphs.append(text)
        else:  # lists, boxed text, quotes: their paragraphs belong to this section
            _collect(child, paragraphs, secs)


def _sections(el: etree._Element, title: str) -> list[Section]:
    """`el`'s own paragraphs as Section `title`, then its `sec`s, depth first (document order)."""
    paragraphs: list[str] = []
    secs: list[etree._Element] = []
    _collect(el, paragraphs, secs)
    out = [Section(title=title, text="\n\n".join(paragraphs))] if paragraphs else []
    for sec in secs:
        title_el = sec.find("title")
        # some publishers end run-in headings with a colon ("Background:"); the path has " / "
        own = _clean(_text(title_el)).rstrip(":").rstrip() if title_el is not None else ""
        out.extend(_sections(sec, " / ".join(t for t in (title, own) if t)))
    return out


def _abstracts(meta: etree._Element) -> list[Section]:
    out: list[Section] = []
    for ab in meta.findall("abstract"):
        kind = (ab.get("abstract-type") or "").lower()
        if kind in _SKIPPED_ABSTRACTS:
            continue
        # the main abstract's <title> is "Abstract" or none; a summary's names it ("Author Summary")
        title_el = ab.find("title")
        own = _clean(_text(title_el)) if title_el is not None and kind else ""
        out.extend(_sections(ab, own or kind.replace("-", " ").title() or "Abstract"))
    return out
