"""The pieces of a Swiss-Prot/UniProtKB flat file: each an "ID" line up to the next one, with the
line it starts at, cut from big reads without parsing. `uniprot.parse_flat_piece` turns a piece
into an entry, possibly in another process (the build's workers); the build reads a piece's
accession first to keep one copy of a protein given twice."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from proteinlm.compiled import compiled
from proteinlm.errors import SourceError
from proteinlm.sources.text import READ_ERRORS, HashingReader, open_binary, open_text

_CHUNK = 1 << 22  # bytes (characters for the text reader) per read: few big reads, then one cutting scan
# the cutting loop in C (_pieces.c) on bytes, or None: the text reader `_text_pieces` does the same
_c_cut_pieces = compiled("cut_pieces")


def flat_pieces(path: str | Path, hashing: HashingReader | None = None) -> Iterator[tuple[str, int]]:
    """The raw pieces of a flat file, each an "ID" line up to the next one (the first piece may
    hold text before the first ID line), with the line number it starts at. `parse_flat_piece`
    turns one into an entry, possibly in another process (the build's workers).

    The file is read in big chunks and cut where an "ID" line starts: one scan finds both the
    entries and those whose "//" is missing (their piece does not end with a "//" line). Pieces
    are UTF-8 text, undecodable bytes replaced, line ends "\n" (universal newlines), as
    `open_text` reads them. `hashing`: a `HashingReader` that the file is read through (to its last
    byte)."""
    if _c_cut_pieces is None:
        yield from _text_pieces(path, hashing)
    else:
        yield from _byte_pieces(path, hashing)


def _byte_pieces(path: str | Path, hashing: HashingReader | None) -> Iterator[tuple[str, int]]:
    """`flat_pieces` with the compiled cutting loop, on bytes."""
    with open_binary(path, hashing) as fh:
        rest, line, first, held_cr = b"", 1, True, False  # rest: the piece still open, from line `line`
        for chunk in _reads(fh, path, hashing):
            chunk, held_cr = _lf_only(chunk, held_cr)
            data = rest + chunk if rest else chunk
            pieces, consumed, line = _c_cut_pieces(data, line)
            if first and pieces:  # blank lines before the first ID line are no piece
                first = False
                if not pieces[0][0].strip():
                    del pieces[0]
            yield from pieces
            rest = data[consumed:]
        text = (rest + b"\n" if held_cr else rest).decode("utf-8", "replace")
        if text.strip():
            yield text, line


def _reads(fh, path: str | Path, hashing: HashingReader | None = None) -> Iterator:
    """`fh`'s content, `_CHUNK` bytes or characters at a time; a failed read (a truncated gzip, a
    disk error) stops with a `SourceError` naming the file. At the end, `hashing` reads the
    file's last bytes, if the reader left any."""
    while True:
        try:
            chunk = fh.read(_CHUNK)
            if not chunk and hashing is not None:
                hashing.drain()
        except READ_ERRORS as exc:
            raise SourceError(f"{path}: cannot read (truncated or corrupt?): {exc}") from exc
        if not chunk:
            return
        yield chunk


def _lf_only(chunk: bytes, held_cr: bool) -> tuple[bytes, bool]:
    """`chunk` with "\r\n" and "\r" line ends made "\n", as universal newlines reads them. A final
    "\r" is held back (the next chunk may start with its "\n"): (chunk, whether one was held),
    `held_cr` saying whether the previous chunk's was."""
    if held_cr:
        chunk = b"\r" + chunk
    if b"\r" not in chunk:  # what flat files hold: one scan, no copy
        return chunk, False
    held = chunk.endswith(b"\r")
    if held:
        chunk = chunk[:-1]
    return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n"), held


def _text_pieces(path: str | Path, hashing: HashingReader | None) -> Iterator[tuple[str, int]]:
    """`flat_pieces` without the compiled cutting loop: the file read as text, cut in Python."""
    with open_text(path, hashing) as fh:
        buf, line = "", 1  # `line` is the line number of buf[0]
        for chunk in _reads(fh, path, hashing):
            buf += chunk
            pos = 0
            for end, newlines in _cut_py(buf):
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


def piece_accession(text: str) -> str | None:
    """The first accession of a piece's AC line (what its entry's `accession` will be), read
    without parsing the entry; None if there is no AC line."""
    return _guess_acc(text)


def _guess_acc(text: str) -> str | None:
    i = text.find("AC   ")
    if i < 0 or (i > 0 and text[i - 1] != "\n"):
        return None
    return text[i + 5 : text.find("\n", i)].split(";")[0].strip() or None
