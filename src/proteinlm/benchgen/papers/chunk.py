"""Step 1: articles -> chunks of at most N characters, packed from whole paragraphs.

An article is laid out as one flat text: the title, then each section as its title line followed by
its paragraphs, blocks separated by a blank line. Chunks are slices of that text cut only between
blocks (a paragraph longer than the limit is cut between sentences, and a sentence longer than the
limit at a space), so a chunk id "PMC1234:c3200" (article key and start offset) names the same text
whatever else happens in the run: an id never shifts when another chunk fails. Tables, figures,
formulas and references never reach here (the sources drop them); section titles are kept both in
the text and in `Chunk.sections`.

Evidence passages are packed the same way, inside each chunk, to a smaller size (a dense embedder
reads only the first ~256 tokens of a text), so every passage lies in exactly one chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from proteinlm.errors import ProteinLMError, RecordError
from proteinlm.records import Article

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
BLOCK_SEP = "\n\n"


@dataclass(frozen=True)
class Chunk:
    id: str  # "<article key>:c<start>"
    article_id: str  # article key: "PMC1234", or "PMID5678" for an abstract-only record
    start: int
    end: int
    text: str  # exactly the article's flat text [start:end]
    sections: tuple[str, ...]  # titles of the sections the chunk touches, in order
    article: dict = field(default_factory=dict, compare=False, hash=False)  # id, title, pmid, source


@dataclass(frozen=True)
class _Block:
    start: int
    text: str
    section: str


def article_key(article: Article) -> str:
    """PMC articles by PMCID, abstract-only records by PMID: the prefix of every chunk id."""
    if article.pmcid and article.id.startswith("pmc:"):
        return article.pmcid
    if article.pmid:
        return f"PMID{article.pmid}"
    return article.id.replace(":", "_")


def _split_long(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` chars: whole sentences where possible, else cut at a space."""
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut])
            sentence = sentence[cut:].lstrip()
        joined = f"{current} {sentence}" if current else sentence
        if len(joined) <= limit:
            current = joined
        else:
            pieces.append(current)
            current = sentence
    if current:
        pieces.append(current)
    return pieces


def _blocks(article: Article, limit: int) -> tuple[str, list[_Block]]:
    """The article's flat text and its blocks (title lines and paragraphs) with offsets."""
    parts: list[str] = []
    blocks: list[_Block] = []
    pos = 0

    def add(text: str, section: str) -> None:
        nonlocal pos
        for piece in _split_long(text, limit) if len(text) > limit else [text]:
            if parts:
                parts.append(BLOCK_SEP)
                pos += len(BLOCK_SEP)
            blocks.append(_Block(pos, piece, section))
            parts.append(piece)
            pos += len(piece)

    if article.title:
        add(article.title, "Title")
    for sec in article.sections:
        if sec.title:
            add(sec.title, sec.title)
        for para in sec.text.split("\n\n"):
            para = para.strip()
            if para:
                add(para, sec.title)
    return "".join(parts), blocks


def _pack(flat: str, blocks: list[_Block], limit: int) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(start, end, section titles) of runs of consecutive blocks whose span is <= limit."""
    i = 0
    while i < len(blocks):
        j = i + 1
        end = blocks[i].start + len(blocks[i].text)
        while j < len(blocks) and blocks[j].start + len(blocks[j].text) - blocks[i].start <= limit:
            end = blocks[j].start + len(blocks[j].text)
            j += 1
        titles = tuple(dict.fromkeys(b.section for b in blocks[i:j] if b.section))
        yield blocks[i].start, end, titles
        i = j


def chunk_article(article: Article, max_chars: int = 5000) -> list[Chunk]:
    """The article's chunks in text order (none when it has no text)."""
    if max_chars < 200:
        raise ProteinLMError(f"chunk size {max_chars} is too small (at least 200 characters)")
    key = article_key(article)
    flat, blocks = _blocks(article, max_chars)
    info = {"id": key, "title": article.title, "pmid": article.pmid, "source": article.source}
    return [
        Chunk(f"{key}:c{start}", key, start, end, flat[start:end], titles, info)
        for start, end, titles in _pack(flat, blocks, max_chars)
    ]


def passages(chunk: Chunk, max_chars: int = 1000) -> list[tuple[str, int, int, str]]:
    """(passage id "<article>:p<start>", start, end, text) packed inside `chunk`."""
    blocks: list[_Block] = []
    pos = 0
    for block in chunk.text.split(BLOCK_SEP):
        at = 0
        for piece in _split_long(block, max_chars) if len(block) > max_chars else [block]:
            at = block.find(piece, at)  # pieces are the block's sentences, found in order
            blocks.append(_Block(pos + at, piece, ""))
            at += len(piece)
        pos += len(block) + len(BLOCK_SEP)
    out = []
    for start, end, _ in _pack(chunk.text, blocks, max_chars):
        a, b = chunk.start + start, chunk.start + end
        out.append((f"{chunk.article_id}:p{a}", a, b, chunk.text[start:end]))
    return out


# ------------------------------------------------------------------------------- reading inputs
def read_articles(
    paths: Iterable[str | Path], on_error: Callable[[RecordError], None]
) -> Iterator[Article]:
    """Articles of PMC files/packages and PubMed XML files, told apart by their content."""
    from proteinlm.sources import pmc, pubmed

    for path in paths:
        if _looks_like_pubmed(Path(path)):
            yield from pubmed.parse(path, on_error=on_error)
        else:
            yield from pmc.parse(path, on_error=on_error)


def _looks_like_pubmed(path: Path) -> bool:
    import gzip

    try:
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            head = fh.read(4096)
    except (OSError, EOFError) as exc:
        raise ProteinLMError(f"{path}: cannot read: {exc}") from exc
    return b"<PubmedArticleSet" in head or b"<MedlineCitationSet" in head or b"<PubmedArticle" in head
