"""ExPASy ENZYME (`enzyme.dat`) → `Enzyme` records, streamed, gzip-aware.

Format (https://enzyme.expasy.org/enzuser.txt): two-letter line codes in columns 1-2, data from
column 6; `ID` opens an entry, `//` closes it. The file starts with a `CC` licence block closed by
`//` that has no `ID`: it is not an entry and is skipped silently.

Normalisation (kept in one place so that every builder sees the same text):
- DE, AN, CA, CC continuation lines are joined with one space, except after a hyphen that ends a
  word ("O-phospho-L-threonyl-" / "[protein]"), where ENZYME wraps without a space;
- trailing periods are stripped from the accepted name, alternative names, reactions and cofactors
  (they are sentence ends in the file, not part of the names); comments keep theirs;
- newer releases number several reactions "(1) ...", "(2) ...": each is a separate reaction with
  the numbering removed; an un-numbered CA block is one reaction however many lines it spans.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from pathlib import Path
from typing import Callable, Iterator

from proteinlm.errors import RecordError, SourceError
from proteinlm.records import Enzyme

__all__ = ["parse", "EC_RE"]

# A complete EC number; "n" marks the preliminary numbers ENZYME/UniProt use in the 4th position.
EC_RE = re.compile(r"^\d+\.\d+\.\d+\.n?\d+$")
_EC_IN_TEXT = re.compile(r"\b\d+\.\d+\.\d+\.n?\d+\b")
_REACTION_NO = re.compile(r"^\((\d+)\)\s+")
_DR_PAIR = re.compile(r"^\s*([A-Za-z0-9]+)\s*,\s*([A-Za-z0-9_]+)\s*$")
_KNOWN_CODES = {"ID", "DE", "AN", "CA", "CF", "CC", "PR", "DR"}

OnError = Callable[[RecordError], None]


def _open_text(path: Path) -> io.TextIOBase:
    """Open as text, gunzipping when the file starts with the gzip magic (names can lie)."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
    except OSError as exc:
        raise SourceError(f"{path}: cannot open ENZYME file: {exc}") from exc
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines; read failures (truncated gzip, I/O) become SourceError naming the file.

    Only the reading is inside the try, so errors raised by callers are never re-labelled.
    """
    fh = _open_text(path)
    try:
        n = 0
        while True:
            try:
                line = fh.readline()
            except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
                raise SourceError(f"{path}: unreadable after line {n} (truncated or corrupt?): {exc}") from exc
            if not line:
                return
            n += 1
            yield n, line.rstrip("\r\n")
    finally:
        fh.close()


def _join(text: str, more: str) -> str:
    """Join a wrapped line: no space after a word-final hyphen ("L-threonyl-" + "[protein]")."""
    if not text:
        return more
    if text.endswith("-") and len(text) > 1 and not text[-2].isspace():
        return text + more
    return f"{text} {more}"


def _strip_period(text: str) -> str:
    return text[:-1].rstrip() if text.endswith(".") else text


def _build(path: Path, start: int, block: list[tuple[int, str]]) -> Enzyme:
    """One entry from its lines (ID .. before //); raises RecordError("file:line: reason")."""

    def fail(lineno: int, reason: str) -> RecordError:
        return RecordError(f"{path}:{lineno}: {reason}")

    ec = block[0][1][5:].strip()
    if not EC_RE.match(ec):
        raise fail(start, f"bad EC number {ec!r} in ID line")
    de = ""
    names: list[str] = []
    ca_lines: list[str] = []
    cf = ""
    comments: list[str] = []
    swissprot: list[tuple[str, str]] = []
    for lineno, line in block[1:]:
        if not line.strip():
            continue
        code, value = line[:2], line[5:].strip()
        # parse() splits entries on ID, so an ID never reaches here; anything else unknown is.
        if code not in _KNOWN_CODES or line[2:5].strip():
            raise fail(lineno, f"unknown or malformed line {line[:20]!r}")
        if code == "DE":
            de = _join(de, value)
        elif code == "AN":
            # A name that does not yet end with "." is continued by the next AN line.
            if names and not names[-1].endswith("."):
                names[-1] = _join(names[-1], value)
            else:
                names.append(value)
        elif code == "CA":
            ca_lines.append(value)
        elif code == "CF":
            cf = _join(cf, value)
        elif code == "CC":
            if value.startswith("-!-"):
                comments.append(value[3:].strip())
            elif comments and value:
                comments[-1] = _join(comments[-1], value)
        elif code == "DR":
            for pair in value.rstrip(";").split(";"):
                if not pair.strip():
                    continue
                m = _DR_PAIR.match(pair)
                if not m:
                    raise fail(lineno, f"bad DR cross-reference {pair.strip()!r}")
                swissprot.append((m.group(1), m.group(2)))
        # PR (PROSITE pointers) has no field in Enzyme: read, checked, dropped.
    if not de:
        raise fail(start, "entry has no DE line")
    accepted = _strip_period(de)
    transferred: tuple[str, ...] = ()
    deleted = False
    if accepted.lower().startswith("transferred entry"):
        transferred = tuple(_EC_IN_TEXT.findall(accepted))
        if not transferred:
            raise fail(start, f"transferred entry names no EC number: {accepted!r}")
    elif accepted.lower().startswith("deleted entry"):
        deleted = True
    cofactors = tuple(c for c in (_strip_period(p.strip()) for p in cf.split(";")) if c)
    return Enzyme(
        ec=ec,
        accepted_name=accepted,
        alternative_names=tuple(_strip_period(n) for n in names),
        reactions=_reactions(ca_lines),
        comments=tuple(comments),
        cofactors=cofactors,
        swissprot=tuple(swissprot),
        transferred_to=transferred,
        deleted=deleted,
        source=f"{path}:{start}",
    )


def _reactions(lines: list[str]) -> tuple[str, ...]:
    """Split CA lines into reactions.

    Numbering is trusted only when the block starts with "(1)" and later markers count up, so a
    wrapped line that happens to begin with "(2) " inside an un-numbered reaction stays joined.
    """
    if not lines:
        return ()
    first = _REACTION_NO.match(lines[0])
    numbered = first is not None and first.group(1) == "1"
    out: list[str] = []
    for line in lines:
        m = _REACTION_NO.match(line) if numbered else None
        if m and int(m.group(1)) == len(out) + 1:
            out.append(line[m.end():])
        elif out:
            out[-1] = _join(out[-1], line)
        else:
            out.append(line)
    return tuple(_strip_period(r) for r in out if r)


def parse(path: str | Path, *, on_error: OnError | None = None) -> Iterator[Enzyme]:
    """Stream the entries of an ENZYME file (plain or gzip).

    A malformed entry (no ID line, no `//` before the next ID or end of file, bad EC number, bad
    line) is reported to `on_error` as a RecordError naming file:line and skipped; with no
    `on_error` it is raised. A file that cannot be read at all raises SourceError; a missing one
    does so at once, at the call, not at the first `next()`.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such ENZYME file")
    return _parse(path, on_error)


def _parse(path: Path, on_error: OnError | None) -> Iterator[Enzyme]:

    def report(err: RecordError) -> None:
        if on_error is None:
            raise err
        on_error(err)

    block: list[tuple[int, str]] = []  # lines of the current entry, ID first
    orphan: int | None = None  # first non-CC line seen outside an entry (no ID)
    for lineno, line in _lines(path):
        code = line[:2]
        if code == "ID":
            if block:
                report(RecordError(f"{path}:{block[0][0]}: no '//' before the next ID (line {lineno})"))
            elif orphan is not None:
                report(RecordError(f"{path}:{orphan}: entry has no ID line"))
            block, orphan = [(lineno, line)], None
        elif code == "//":
            if block:
                try:
                    enzyme = _build(path, block[0][0], block)
                except RecordError as err:
                    report(err)
                else:
                    yield enzyme
            elif orphan is not None:
                report(RecordError(f"{path}:{orphan}: entry has no ID line"))
            # else: the licence header (CC lines only) or a stray terminator: nothing to report.
            block, orphan = [], None
        elif block:
            block.append((lineno, line))
        elif line.strip() and code != "CC" and orphan is None:
            orphan = lineno  # CC outside an entry is the licence header
    if block:
        report(RecordError(f"{path}:{block[0][0]}: no '//' before end of file"))
    elif orphan is not None:
        report(RecordError(f"{path}:{orphan}: entry has no ID line"))
