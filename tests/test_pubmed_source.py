"""PubMed/MEDLINE source: real baseline/update files, pubmed_parser as the oracle."""

from __future__ import annotations

import gzip
import http.server
import re
import threading
import tracemalloc
from pathlib import Path

import pytest
from lxml import etree

from proteinlm.errors import RecordError, SourceError
from proteinlm.records import Article, Section
from proteinlm.sources.pubmed import parse

FIXTURES = Path(__file__).parent / "fixtures" / "pubmed"
PUBMED = Path(__file__).parents[1].parent / "shared/data/pubmed"
NAMES = [
    "medline16n0902.xml.gz",
    "test_current_medline.xml.gz",
    "pubmed-29768149.xml",
    "pubmed1.xml",
    "pubmed2.xml",
]


def _shared(name: str) -> Path:
    path = PUBMED / name
    if not path.is_file():
        pytest.skip(f"shared PubMed sample {name} missing")
    return path


def _norm(text: str) -> str:
    return " ".join(text.split())


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


# --------------------------------------------------------------------------- pubmed_parser oracle


def _oracle_file(path: Path, tmp: Path) -> Path:
    """pubmed_parser 0.5.1 always gunzips and only reads <PubmedArticle>: gzip plain files and wrap
    the bare <MedlineCitation>s of pre-2017 MedlineCitationSet files."""
    data = _raw(path)
    if b"<MedlineCitationSet" in data[:1000]:
        data = re.sub(rb"<MedlineCitation(?=[\s>])", b"<PubmedArticle><MedlineCitation", data)
        data = data.replace(b"</MedlineCitation>", b"</MedlineCitation></PubmedArticle>")
    out = tmp / (path.name + ".oracle.xml.gz")
    out.write_bytes(gzip.compress(data))
    return out


def _joined(article: Article) -> str:
    """Our sections joined the way pubmed_parser joins a structured abstract: "LABEL text ..." when
    there are several AbstractTexts (no label for UNASSIGNED), the bare text for a single one.
    Intentional difference: pubmed_parser reads only `Label`, we fall back to `NlmCategory` — no
    AbstractText in these files has an NlmCategory without a Label, so the joins agree."""
    secs = article.sections
    if len(secs) == 1:
        return secs[0].text
    return _norm(" ".join(f"{'' if s.title == 'UNASSIGNED' else s.title} {s.text}" for s in secs))


def _dois_in(raw: bytes) -> dict[str, set[str]]:
    """Independent reading: every DOI a citation carries (ELocationID or ArticleIdList), by PMID."""
    root = etree.fromstring(raw, etree.XMLParser(load_dtd=False, no_network=True))
    out: dict[str, set[str]] = {}
    for cit in root.iter("MedlineCitation"):
        rec = cit.getparent() if cit.getparent().tag == "PubmedArticle" else cit
        found = {e.text.strip() for e in rec.iter("ELocationID") if e.get("EIdType") == "doi"}
        for a in rec.iterfind("PubmedData/ArticleIdList/ArticleId"):
            if a.get("IdType") == "doi":
                found.add(a.text.strip())
        out[cit.findtext("PMID")] = found
    return out


@pytest.mark.parametrize("name", NAMES)
def test_matches_pubmed_parser(name: str, tmp_path: Path) -> None:
    pp = pytest.importorskip("pubmed_parser")
    path = _shared(name)
    ours = {a.pmid: a for a in parse(path) if not a.deleted}
    theirs = {r["pmid"]: r for r in pp.parse_medline_xml(str(_oracle_file(path, tmp_path)))}
    assert theirs and list(ours) == list(theirs)  # same PMIDs, same order
    dois = _dois_in(_raw(path))
    for pmid, r in theirs.items():
        a = ours[pmid]
        assert a.id == f"pmid:{pmid}"
        # pubmed_parser has no VernacularTitle fallback; ours applies when ArticleTitle is empty
        assert a.title == (_norm(r["title"]) or _norm(r["vernacular_title"])), pmid
        assert _joined(a) == _norm(r["abstract"]), pmid
        assert a.journal == (_norm(r["journal"]) or a.journal), pmid
        if r["pubdate"]:
            assert a.year == int(r["pubdate"]), pmid
        assert a.language == (r["languages"].split(";")[0] or None), pmid
        assert list(a.mesh_terms) == [m.split(":", 1)[1] for m in r["mesh_terms"].split("; ") if m]
        # pubmed_parser reads only the first KeywordList; we keep all of them
        assert {_norm(k) for k in r["keywords"].split("; ") if k} <= set(a.keywords), pmid
        # pubmed_parser keeps the *last* ELocationID's DOI ("" when a pii follows the doi); ours
        # is the first DOI the record carries, checked against an independent reading.
        if r["doi"]:
            assert a.doi == r["doi"], pmid
        assert (a.doi in dois[pmid]) if a.doi else not dois[pmid], pmid


# --------------------------------------------------------------------------- real files


def test_medline16_count_and_delete() -> None:
    arts = list(parse(_shared("medline16n0902.xml.gz")))
    live = [a for a in arts if not a.deleted]
    assert len(live) == 604
    assert [a.pmid for a in arts if a.deleted] == ["26432306"]
    assert len(list(parse(_shared("medline16n0902.xml.gz"), include_deleted=False))) == 604
    first = live[0]
    assert first.pmid == "17942999" and first.year == 2007
    assert first.journal == "Restorative neurology and neuroscience"
    assert [s.title for s in first.sections][:3] == ["PURPOSE", "METHODS", "RESULTS"]
    assert first.source.endswith("medline16n0902.xml.gz:5")
    assert sum(a.year is not None for a in live) == 604


def test_structured_abstract_keeps_every_section() -> None:
    (a,) = parse(_shared("pubmed-29768149.xml"))
    assert [s.title for s in a.sections] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert "β 2-agonist" in a.sections[0].text  # <sub> flattened, indentation a space
    assert a.doi == "10.1056/NEJMoa1715274" and a.year == 2018 and a.language == "eng"


# --------------------------------------------------------------------------- fixture


def test_fixture_deleted_markup_medline_date() -> None:
    arts = list(parse(FIXTURES / "deleted.xml"))
    ids = ["pmid:10000001", "pmid:10000002", "pmid:9000001", "pmid:9000002"]
    assert [a.id for a in arts] == ids
    a, b, d1, d2 = arts
    assert a.title == "Expression of lacZ in Escherichia coli grown with Ca2+."
    assert a.sections == (
        Section("BACKGROUND", "The lacZ gene encodes beta-galactosidase."),
        Section("METHODS", "Cells were grown in 10-3 M CaCl2."),
        Section("RESULTS", "Activity rose twofold."),  # no Label: NlmCategory
        Section("CONCLUSIONS", "Calcium induces lacZ."),
    )  # neither CopyrightInformation nor the French OtherAbstract
    assert a.year == 1998  # MedlineDate "1998 Dec-1999 Jan"
    assert a.doi == "10.1006/bbrc.1998.0001" and a.pmcid == "PMC1234567"
    assert a.language == "eng" and a.mesh_terms == ("Calcium", "Escherichia coli")
    assert a.keywords == ("lacZ", "calcium") and not a.deleted
    # empty ArticleTitle -> VernacularTitle; no PubDate year -> ArticleDate; DOI from ArticleIdList
    assert b.title == "钙对 lacZ 表达的影响" and b.year == 2001 and b.language == "chi"
    assert b.journal == "Zhonghua Yi Xue Za Zhi" and b.doi == "10.9999/zyz.2001.1"
    assert d1 == Article(id="pmid:9000001", title="", sections=(), pmid="9000001", deleted=True)
    assert d2.deleted and d2.source.endswith("deleted.xml:9")
    kept = list(parse(FIXTURES / "deleted.xml", include_deleted=False))
    assert [x.pmid for x in kept] == ["10000001", "10000002"]


def test_gzip_by_magic_bytes(tmp_path: Path) -> None:
    plain = FIXTURES / "deleted.xml"
    gz = tmp_path / "pubmed25n0001.xml"  # no .gz suffix: the magic bytes decide
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert list(parse(gz)) == list(parse(plain))


# --------------------------------------------------------------------------- errors


def test_truncated_gzip(tmp_path: Path) -> None:
    data = _shared("medline16n0902.xml.gz").read_bytes()
    bad = tmp_path / "cut.xml.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="cut.xml.gz"):
        list(parse(bad))


def test_missing_and_not_well_formed(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nope.xml"):
        list(parse(tmp_path / "nope.xml"))
    bad = tmp_path / "bad.xml"
    bad.write_text("<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>")
    with pytest.raises(SourceError, match="bad.xml"):
        list(parse(bad))


_ART = (
    "<PubmedArticle><MedlineCitation>{}<Article><ArticleTitle>{}</ArticleTitle></Article>"
    "</MedlineCitation></PubmedArticle>"
)
_NO_PMID = "\n".join(
    [
        '<?xml version="1.0"?>',
        "<PubmedArticleSet>",
        _ART.format("<PMID>11</PMID>", "One."),
        _ART.format("", "No PMID."),
        _ART.format("<PMID>13</PMID>", "Three."),
        "</PubmedArticleSet>\n",
    ]
)


def test_missing_pmid_reported_with_location(tmp_path: Path) -> None:
    path = tmp_path / "nopmid.xml"
    path.write_text(_NO_PMID)
    errors: list[RecordError] = []
    assert [a.pmid for a in parse(path, on_error=errors.append)] == ["11", "13"]
    assert len(errors) == 1 and str(errors[0]) == f"{path}:4: no <PMID>"
    with pytest.raises(RecordError, match=r"nopmid.xml:4: no <PMID>"):
        list(parse(path))


def _with_doctype(url: str, tmp_path: Path) -> Path:
    text = (FIXTURES / "deleted.xml").read_text(encoding="utf-8")
    text = re.sub(r'"https://dtd[^"]+"', f'"{url}"', text)
    assert url in text
    path = tmp_path / "doctype.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_doctype_dtd_never_loaded(tmp_path: Path) -> None:
    """The DOCTYPE names a local file that is not a DTD: loading it would be a syntax error."""
    dtd = tmp_path / "pubmed_250101.dtd"
    dtd.write_text("<!ELEMENT this is not a DTD")
    assert len(list(parse(_with_doctype(dtd.as_uri(), tmp_path)))) == 4


def test_doctype_dtd_never_fetched(tmp_path: Path) -> None:
    """The DOCTYPE points at a local HTTP server: parsing must work and the server see nothing.
    (Recent libxml2 builds have no HTTP client at all; this guards builds that still do.)"""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY title "FROM DTD">')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/pubmed_250101.dtd"
        assert len(list(parse(_with_doctype(url, tmp_path)))) == 4
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


# --------------------------------------------------------------------------- memory


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


_RECORD = (
    b'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">%d</PMID>'
    b'<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Print"><PubDate><Year>2020'
    b"</Year></PubDate></JournalIssue><Title>Journal of synthetic examples</Title></Journal>"
    b"<ArticleTitle>Expression of <i>lacZ</i> in <i>Escherichia coli</i>.</ArticleTitle><Abstract>"
    b'<AbstractText Label="BACKGROUND">The lacZ gene encodes beta-galactosidase, an enzyme that '
    b'cleaves lactose.</AbstractText><AbstractText Label="RESULTS">Activity rose twofold with 10 '
    b"mM CaCl<sub>2</sub>.</AbstractText></Abstract><Language>eng</Language></Article>"
    b'<MeshHeadingList><MeshHeading><DescriptorName UI="D002118">Calcium</DescriptorName>'
    b"</MeshHeading></MeshHeadingList></MedlineCitation></PubmedArticle>\n"
)


def test_memory_stays_flat(tmp_path: Path) -> None:
    """20k citations: records are freed as they go, so neither Python objects (tracemalloc) nor
    libxml2's tree (resident memory, Linux only; ~120 MB when nothing is freed) grow with the
    file."""
    path = tmp_path / "big.xml"
    n = 20_000
    with open(path, "wb") as fh:
        fh.write(b'<?xml version="1.0"?>\n<PubmedArticleSet>\n')
        for i in range(n):
            fh.write(_RECORD % (20_000_000 + i))
        fh.write(b"</PubmedArticleSet>\n")
    linux = Path("/proc/self/statm").exists()
    base = _rss() if linux else 0
    rss_peak = 0
    tracemalloc.start()
    try:
        count = 0
        for i, a in enumerate(parse(path)):
            count += 1
            if linux and i % 1000 == 0:
                rss_peak = max(rss_peak, _rss() - base)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n and a.pmid == str(20_000_000 + n - 1)
    assert a.sections[1] == Section("RESULTS", "Activity rose twofold with 10 mM CaCl2.")
    assert peak < 30e6, f"Python peak {peak / 1e6:.1f} MB"
    assert rss_peak < 40e6, f"resident memory grew {rss_peak / 1e6:.1f} MB"
