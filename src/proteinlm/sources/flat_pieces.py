"""The pieces of a Swiss-Prot/UniProtKB flat file: each an "ID" line up to the next one, with the
line it starts at, cut from big reads without parsing. `uniprot.parse_flat_piece` turns a piece
into an entry, possibly in another process (the build's workers); the build reads a piece's
accession first to keep one copy of a protein given twice."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from proteinlm.compiled import compiled
from proteinlm.errors import SourceError
from proteinlm.sources.text import READ_ERRORS, open_text

_CHUNK = 1 << 22  # characters per read: few big reads, then the cutting loop scans them
# the cutting loop in C (_pieces.c), or None: the Python loop `_cut_py` does the same
_c_piece_ends = compiled("piece_ends")


def flat_pieces(path: str | Path) -> Iterator[tuple[str, int]]:
    """The raw pieces of a flat file, each an "ID" line up to the next one (the first piece may
    hold text before the first ID line), with the line number it starts at. `parse_flat_piece`
    turns one into an entry, possibly in another process (the build's workers).

    The text is read in big chunks and cut where an "ID" line starts: one scan finds both the
    entries and those whose "//" is missing (their piece does not end with a "//" line)."""
    name = str(path)
    with open_text(path) as fh:
        buf, line = "", 1  # `line` is the line number of buf[0]
        while True:
            try:
                chunk = fh.read(_CHUNK)
            except READ_ERRORS as exc:
                raise SourceError(f"{name}: cannot read (truncated or corrupt?): {exc}") from exc
            if not chunk:
                break
            buf += chunk
            pos = 0
            for end, newlines in _cut(buf):
                text = buf[pos:end]
                if pos > 0 or text.strip():
                    yield text, line
                line += newlines
                pos = end
            buf = buf[pos:]
        if buf.strip():
            yield buf, line


def _cut_py(buf: str) -> Iterator[tuple[int, int]]:
    """(end, newlines) of each piece of `buf` that ends where an "ID" line starts."""
    pos = 0
    while (nxt := buf.find("\nID   ", pos)) >= 0:
        yield nxt + 1, buf.count("\n", pos, nxt + 1)
        pos = nxt + 1


def _cut(buf: str):
    """`_cut_py(buf)`, in C where the extension is built (one pass, ~0.3 s less per 200 MB)."""
    if _c_piece_ends is not None and (ends := _c_piece_ends(buf, 0)) is not None:
        return ends
    return _cut_py(buf)


def piece_accession(text: str) -> str | None:
    """The first accession of a piece's AC line (what its entry's `accession` will be), read
    without parsing the entry; None if there is no AC line."""
    return _guess_acc(text)


def _guess_acc(text: str) -> str | None:
    i = text.find("AC   ")
    if i < 0 or (i > 0 and text[i - 1] != "\n"):
        return None
    return text[i + 5 : text.find("\n", i)].split(";")[0].strip() or None
