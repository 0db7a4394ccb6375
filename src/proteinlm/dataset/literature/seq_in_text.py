"""Sequence-in-text documents: a protein's sequence written right after its first mention.

The published pipeline tagged PubMed abstracts with a NER server and a 20B model. We do it offline
and favour precision over recall: a dictionary of UniProt names kept in an on-disk SQLite index,
only names that point to exactly one sequence, a stoplist of common words, and whole-word matches.

Name normalisation (`_clean`, then `_fold` for the case-insensitive key), kept simple on purpose:
  * every Unicode dash/hyphen/minus becomes "-", every run of whitespace one space, ends stripped;
  * folding lowercases character by character (never changing the length, so text offsets hold);
  * Greek letters are NOT spelt out ("TNF-α" and "TNF-alpha" are different names).

Case rule: gene names, and any name that is one token of at most 6 characters ("t-PA", "PEPI"),
match case-sensitively (gene symbols collide with words: "PLAT" vs "plat"); longer names ("Tissue-
type plasminogen activator", "Alteplase") match case-insensitively (titles capitalise them).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from proteinlm.dataset.seqtext import seq_to_text
from proteinlm.errors import ProteinLMError
from proteinlm.records import Article, Document, ProteinEntry, Section

SUBSET = "seq_in_text"
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_BATCH = 10_000  # rows per executemany: big enough to be fast, small enough to stream

# Names that are ordinary English or generic biomedical words: as a gene symbol or alternative
# name they would match everywhere ("MET", "CAT", "SET" are real human genes).
DEFAULT_STOPWORDS = frozenset(
    """
    was can set cat end via large met his tag for and type cell cells factor alpha beta gamma delta
    kinase enzyme protein proteins gene genes the not but all any are has had have with were its
    one two three four five small long short age aim arm art bad bar bed big bit box boy car cut
    day dog ear egg eye fat few fig fit fix gap gas hat hit hot ice ion key kit lab lag lay led leg
    let lid lip low map max min mix mod mud net new nod oil old out pad pan par per pet pig pin pit
    pop pot put ram ran rat raw red rib rod row run sad sea see sex she sit six sky son sun tan tap
    ten tie tip top toy try use van war wax way web wet who why win yes yet you acid base band bind
    body bone cage camp case chip clock coil cold core dark data dose down drop fast fish flag gate
    gold hair hand head heat high hole host kiss lamp land late lead left light like line link lock
    loss mask mass mate mice mind mode most move name near neck null open page pair part path peak
    pole pool port post rain rest ring rise road rock role root rose rough safe salt same sand scar
    seed self ship shop sign sink site size skin slow snail soft spot star step stop talk tall tank
    task term test time tube unit wall ward warm wave well white wide wing wire work yellow zeta
    sigma kappa lambda omega theta receptor subunit domain chain antigen peptide precursor fragment
    complex family member homolog isoform variant mutant control normal patient patients human
    mouse yeast
    """.split()
)


@dataclass
class IndexStats:
    entries: int = 0
    proteins: int = 0  # distinct accessions written
    names: int = 0  # (name, accession, kind) rows written
    skipped: int = 0  # entries without a sequence


@dataclass
class SeqInTextStats:
    articles: int = 0
    with_mentions: int = 0
    documents: int = 0
    mentions: int = 0
    ambiguous_names: int = 0  # filled from the matcher: names with several distinct sequences
    stopword_names: int = 0  # filled from the matcher: stoplisted, too short or numeric


@dataclass(frozen=True)
class Mention:
    start: int  # offsets into the text searched
    end: int
    name: str  # the indexed name that matched (its spelling in UniProt)
    accession: str


def _clean(name: str) -> str:
    return " ".join(name.translate(_DASHES).split())


def _fold(s: str) -> str:
    low = s.lower()
    if len(low) == len(s):  # each char lowers to >= 1 char, so equal length means 1:1
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in s)


def normalize_name(name: str) -> str:
    """The `names.name_norm` key: dashes unified, whitespace collapsed, lowercased."""
    return _fold(_clean(name))


def _case_sensitive(name: str, kind: str) -> bool:
    return kind == "gene" or (" " not in name and len(name) <= 6)


def _entry_names(e: ProteinEntry) -> Iterator[tuple[str, str]]:
    """(name, kind) pairs worth indexing; short or numeric gene names match too much noise."""
    if e.recommended_name:
        yield e.recommended_name, "recommended"
    for n in e.alternative_names:
        # ProteinEntry mixes full and short alternative names; short ones under 4 chars ("tPA",
        # "CDH") are too ambiguous in free text, so keep only names of >= 4 characters.
        if len(_clean(n)) >= 4:
            yield n, "alternative"
    for n in e.gene_names:
        c = _clean(n)
        if len(c) >= 3 and not c.replace("-", "").replace(".", "").isdigit():
            yield n, "gene"


_SCHEMA = """
CREATE TABLE proteins(accession TEXT PRIMARY KEY, sequence TEXT NOT NULL, organism TEXT,
                      taxon_id INTEGER, seq_hash TEXT NOT NULL);
CREATE TABLE names(name_norm TEXT NOT NULL, name TEXT NOT NULL, accession TEXT NOT NULL,
                   kind TEXT NOT NULL);
"""


def build_index(entries: Iterable[ProteinEntry], db_path: str | Path) -> IndexStats:
    """Write a fresh index at `db_path` (an existing file is replaced, atomically).

    Besides the documented columns, `proteins.seq_hash` (md5 of the sequence) lets the matcher test
    "one name, one sequence" without loading sequences, and `names.name` keeps the spelling the
    case-sensitive matcher needs.
    """
    db_path = Path(db_path)
    tmp = db_path.with_name(db_path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a killed earlier build leaves this behind
    stats = IndexStats()
    con = sqlite3.connect(tmp)
    try:
        con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        prot: list[tuple] = []
        names: list[tuple] = []
        seen: set[str] = set()
        with con:  # one transaction for the whole build
            for e in entries:
                stats.entries += 1
                if not e.sequence:
                    stats.skipped += 1
                    continue
                if e.accession not in seen:  # first entry wins, as a PRIMARY KEY would insist
                    seen.add(e.accession)
                    h = hashlib.md5(e.sequence.encode()).hexdigest()
                    prot.append((e.accession, e.sequence, e.organism, e.taxon_id, h))
                    rows = {(normalize_name(n), _clean(n), e.accession, k) for n, k in _entry_names(e)}
                    names.extend(sorted(rows))
                if len(prot) >= _BATCH or len(names) >= _BATCH:
                    _flush(con, prot, names, stats)
            _flush(con, prot, names, stats)
            con.execute("CREATE INDEX names_norm ON names(name_norm)")
    finally:
        con.close()
    os.replace(tmp, db_path)
    return stats


def _flush(con: sqlite3.Connection, prot: list, names: list, stats: IndexStats) -> None:
    con.executemany("INSERT INTO proteins VALUES (?,?,?,?,?)", prot)
    con.executemany("INSERT INTO names VALUES (?,?,?,?)", names)
    stats.proteins += len(prot)
    stats.names += len(names)
    prot.clear()
    names.clear()


class MentionMatcher:
    """Whole-word, longest-first dictionary matching of unambiguous protein names.

    Opens an existing index read-only (build it once with `build_index`, reuse it across runs).
    Sequences stay on disk and are fetched per accession: Swiss-Prot's would not fit comfortably in
    every worker's memory.
    """

    def __init__(self, db_path: str | Path, *, stopwords: Iterable[str] = DEFAULT_STOPWORDS) -> None:
        self.db_path = Path(db_path)
        if not self.db_path.is_file():
            raise FileNotFoundError(f"no sequence index at {self.db_path} (run build_index first)")
        self._con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, check_same_thread=False)
        stop = {normalize_name(w) for w in stopwords}
        self.ambiguous_names = 0
        self.stopword_names = 0
        self.names = 0
        self._cs = ahocorasick.Automaton()  # keys: cleaned names, original case
        self._ci = ahocorasick.Automaton()  # keys: folded names
        rows = self._con.execute(
            "SELECT n.name_norm, n.name, n.kind, n.accession, p.seq_hash FROM names n "
            "JOIN proteins p USING(accession) ORDER BY n.name_norm, n.accession"
        )
        for norm, group in itertools.groupby(rows, key=lambda r: r[0]):
            group = list(group)
            if len(norm) < 3 or norm in stop or norm.replace("-", "").replace(".", "").isdigit():
                self.stopword_names += 1
                continue
            if len({r[4] for r in group}) > 1:  # without organism context we cannot choose
                self.ambiguous_names += 1
                continue
            acc = group[0][3]  # identical sequences under several accessions: the first, sorted
            self.names += 1
            if any(_case_sensitive(r[1], r[2]) for r in group):
                for spelling in {r[1] for r in group}:
                    self._cs.add_word(spelling, (spelling, acc))
            else:
                self._ci.add_word(norm, (group[0][1], acc))
        for a in (self._cs, self._ci):
            if len(a):
                a.make_automaton()

    def sequence(self, accession: str) -> str:
        sql = "SELECT sequence FROM proteins WHERE accession=?"
        row = self._con.execute(sql, (accession,)).fetchone()
        if row is None:
            raise KeyError(accession)
        return row[0]

    def close(self) -> None:
        self._con.close()

    def find(self, text: str) -> list[Mention]:
        """Non-overlapping mentions in text order; at each position the longest name wins."""
        # Normalise the text like the names, keeping a map back to original offsets.
        chars: list[str] = []
        pos: list[int] = []
        for i, c in enumerate(text.translate(_DASHES)):
            if c.isspace():
                if not chars or chars[-1] == " ":
                    continue
                c = " "
            chars.append(c)
            pos.append(i)
        norm = "".join(chars)
        cands = []
        for auto, hay in ((self._cs, norm), (self._ci, _fold(norm))):
            if not len(auto):
                continue
            for last, (name, acc) in auto.iter(hay):
                first = last - len(name) + 1
                # word boundaries: "PLAT" must not match inside "PLATE" or "aPLAT"
                if first > 0 and norm[first - 1].isalnum():
                    continue
                if last + 1 < len(norm) and norm[last + 1].isalnum():
                    continue
                cands.append((first, -(last + 1), name, acc))
        out: list[Mention] = []
        taken_to = 0
        for first, neg_end, name, acc in sorted(cands):
            if first < taken_to:
                continue  # overlaps a longer (or earlier) match already taken
            taken_to = -neg_end
            out.append(Mention(pos[first], pos[-neg_end - 1] + 1, name, acc))
        return out


def article_text(article: Article, section_filter: Callable[[Section], bool] | None = None) -> str:
    """Title, then each section as a paragraph; structured-abstract labels kept as "LABEL: ..."."""
    parts = [article.title.strip()] if article.title.strip() else []
    for s in article.sections:
        if section_filter is not None and not section_filter(s):
            continue
        label = s.title.strip()
        body = s.text.strip()
        if body:
            parts.append(f"{label}: {body}" if label and label.lower() != "abstract" else body)
    return "\n\n".join(parts)


def insert_sequences(
    article: Article,
    matcher: MentionMatcher,
    *,
    max_proteins: int = 1,
    seq_tags: tuple[str, str] = ("<seq>", "</seq>"),
    seq_sep: str = " ",
    section_filter: Callable[[Section], bool] | None = None,
    stats: SeqInTextStats | None = None,
) -> tuple[Document | None, list[Mention]]:
    """The article with " <seq> M K T ... </seq>" after the first mention of its first
    `max_proteins` distinct proteins, and every mention found (offsets in the text before
    insertion). None when the article is deleted, empty or mentions no indexed protein.

    `section_filter` picks sections (e.g. only abstracts of PMC articles); default all.
    Document meta holds the offsets of each chosen mention and of its inserted sequence in the
    final text.
    """
    if stats is not None:
        stats.articles += 1
    if article.deleted:
        return None, []
    text = article_text(article, section_filter)
    mentions = matcher.find(text) if text else []
    if stats is not None:
        stats.mentions += len(mentions)
        stats.with_mentions += bool(mentions)
    chosen: list[Mention] = []
    for m in mentions:  # first mention of each protein, in text order
        if len(chosen) >= max_proteins:
            break
        if all(c.accession != m.accession for c in chosen):
            chosen.append(m)
    if not chosen:
        return None, mentions
    out: list[str] = []
    info: list[dict] = []
    prev = 0
    length = 0
    for m in chosen:  # chosen is in text order, so one forward pass keeps offsets simple
        out.append(text[prev : m.end])
        length += m.end - prev
        seq = seq_to_text(matcher.sequence(m.accession), seq_tags[0], seq_tags[1], seq_sep)
        start = length - (m.end - m.start)
        out.append(" " + seq)
        info.append({"accession": m.accession, "name": m.name, "start": start, "end": length,
                     "seq_start": length + 1, "seq_end": length + 1 + len(seq)})
        length += 1 + len(seq)
        prev = m.end
    out.append(text[prev:])
    meta = {"article_id": article.id, "pmid": article.pmid, "pmcid": article.pmcid,
            "accessions": [m.accession for m in chosen], "names": [m.name for m in chosen],
            "mentions": info, "source": article.source}
    doc = Document(id=f"{SUBSET}-{article.id}", text="".join(out), subset=SUBSET, meta=meta)
    if stats is not None:
        stats.documents += 1
    return doc, mentions


def build_documents(
    articles: Iterable[Article], matcher: MentionMatcher, stats: SeqInTextStats | None = None, **kw
) -> Iterator[Document]:
    """`insert_sequences` over many articles, yielding only the documents written."""
    stats = stats if stats is not None else SeqInTextStats()
    stats.ambiguous_names = matcher.ambiguous_names
    stats.stopword_names = matcher.stopword_names
    for a in articles:
        doc, _ = insert_sequences(a, matcher, stats=stats, **kw)
        if doc is not None:
            yield doc


def ensure_index(uniprot: list[str], out: Path, skipped: list[str]) -> tuple[str, dict]:
    """The SQLite name/sequence index at OUT/seq_index.sqlite, rebuilt unless its record
    (OUT/seq_index.json) lists the same UniProt inputs with the same hashes."""
    from proteinlm.dataset.steps.writers import file_info
    from proteinlm.sources import uniprot as uniprot_source

    if not uniprot:
        raise ProteinLMError("seq-in-text needs --uniprot (Swiss-Prot) inputs")
    db, record = out / "seq_index.sqlite", out / "seq_index.json"
    inputs = [file_info(Path(p)) for p in uniprot]
    if db.is_file() and record.is_file():
        saved = json.loads(record.read_text())
        if [(i["bytes"], i["sha256"]) for i in saved["inputs"]] == [(i["bytes"], i["sha256"]) for i in inputs]:
            return str(db), dict(saved["stats"], reused=True)

    def entries():
        for p in uniprot:
            yield from uniprot_source.parse(p, on_error=lambda e: skipped.append(str(e)))

    stats = build_index(entries(), db).__dict__.copy()
    record.write_text(json.dumps({"inputs": inputs, "stats": stats}, indent=2) + "\n")
    return str(db), dict(stats, reused=False)
