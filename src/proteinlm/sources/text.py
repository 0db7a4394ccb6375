"""Shared helpers for the source parsers: opening (gzip-aware) files and cleaning UniProt free text.

Cleaning rules (`clean_text`), applied identically to flat-file, XML and TSV text so that the same
entry gives the same strings whatever its format:

* dropped: evidence tags `{ECO:...}` (also lists `{ECO:1|PubMed:2, ECO:3}`), citations
  `(PubMed:1, PubMed:2)`, `[MIM:...]` references, a leading topic prefix (`FUNCTION: `) and `Note=`
  keys (the note's text is kept);
* dropped as well: the pre-2014 qualifiers `(By similarity)`, `(Probable)` and `(Potential)`.
  Current releases express the same thing as `{ECO:...}` codes, which we drop, so keeping the old
  words would make the same statement read differently depending on the release it came from;
* whitespace collapsed; ` .`, ` ,`, ` ;`, ` :`, ` )`, `( ` closed up; `..` and `. .` made one period (an
  ellipsis `...` is kept); empty parentheses removed; ends stripped.

Structured topics are turned into sentences by `clean_comment` before that cleaning:
CATALYTIC ACTIVITY `Reaction=A = B; Xref=...; EC=1.2.3.4; Evidence=...;` -> "A = B (EC 1.2.3.4).";
COFACTOR `Name=heme b; Xref=...; Note=...` -> "heme b. <note>" (several names joined by "; ").
SUBCELLULAR LOCATION and DISEASE are already sentences in the flat file; the XML parser rebuilds the
flat-file wording from its elements and then goes through the same cleaning.
"""

from __future__ import annotations

import io
import re
import zlib
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, TextIO

from isal import igzip, isal_zlib

from proteinlm.errors import RecordError, SourceError

OnError = Callable[[RecordError], None]


class BadRecord(Exception):
    """One malformed record: the parsers report it through `on_error` and go on."""


def report(on_error: OnError | None, where: str, reason: str, acc: str | None) -> None:
    """Hand a `RecordError` "file:line: reason, entry ACC" to `on_error`, or raise it if None."""
    err = RecordError(f"{where}: {reason}, entry {acc or '?'}")
    if on_error is None:
        raise err
    on_error(err)


# Errors that mean "the file cannot be read" (truncated gzip, I/O failure): they stop a build.
READ_ERRORS = (OSError, EOFError, zlib.error, isal_zlib.error)

GZIP_MAGIC = b"\x1f\x8b"


class HashingReader(io.RawIOBase):
    """A file's bytes as read, fed to `digest` (a hashlib object) on the way: the hash of an input
    is made from the reads that parse it, not from a second pass over the file, and it is the hash
    of exactly the bytes that were parsed. `bytes` counts them; `drain` reads what the parser left
    (a gzip reader stops at the end of its data) so that the hash covers the whole file, and sets
    `done`."""

    def __init__(self, digest):
        self._fh = None
        self.digest, self.bytes, self.done = digest, 0, False

    def open(self, path: str | Path) -> "HashingReader":
        self._fh = open(path, "rb", buffering=0)
        return self

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._fh.readinto(b)
        if n:
            self.digest.update(memoryview(b)[:n])
            self.bytes += n
        return n

    def drain(self) -> None:
        block = bytearray(1 << 20)
        while self.readinto(block):
            pass
        self.done = True

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        super().close()


def open_binary(path: str | Path, hashing: HashingReader | None = None) -> BinaryIO:
    """Open `path` for reading bytes, decompressing when it starts with the gzip magic bytes;
    through `hashing` (a `HashingReader`, not yet open) when given.

    The magic bytes decide, not the suffix: downloads are often renamed or served uncompressed.
    """
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        raw = io.BufferedReader(hashing.open(path), 1 << 20) if hashing is not None else None
        if magic == GZIP_MAGIC:
            # ISA-L's inflate (python-isal) reads ~2-3x faster than zlib's: the input of a
            # Swiss-Prot or PubMed build is gigabytes of gzip
            return igzip.open(raw if raw is not None else path, "rb")  # type: ignore[return-value]
        return raw if raw is not None else open(path, "rb", buffering=1 << 20)
    except READ_ERRORS as exc:
        raise SourceError(f"{path}: cannot open: {exc}") from exc


def open_text(path: str | Path, hashing: HashingReader | None = None) -> TextIO:
    """Open `path` as UTF-8 text (gzip-aware). Undecodable bytes become U+FFFD rather than stopping
    a multi-GB stream: old releases carry a few Latin-1 characters in free text."""
    return io.TextIOWrapper(open_binary(path, hashing), encoding="utf-8", errors="replace")


def read_lines(fh: TextIO, path: str | Path) -> Iterator[str]:
    """Iterate over the lines of `fh`, turning read failures into a `SourceError` naming `path`."""
    it = iter(fh)
    while True:
        try:
            line = next(it)
        except StopIteration:
            return
        except READ_ERRORS as exc:
            raise SourceError(f"{path}: cannot read (truncated or corrupt file?): {exc}") from exc
        yield line


# Flat-file topic names; XML `<comment type=...>` maps to these by upper-casing, except below.
TOPICS = frozenset(
    (
        "FUNCTION", "CATALYTIC ACTIVITY", "COFACTOR", "ACTIVITY REGULATION", "ENZYME REGULATION",
        "BIOPHYSICOCHEMICAL PROPERTIES", "PATHWAY", "SUBUNIT", "INTERACTION",
        "SUBCELLULAR LOCATION", "ALTERNATIVE PRODUCTS", "TISSUE SPECIFICITY",
        "DEVELOPMENTAL STAGE", "INDUCTION", "DOMAIN", "PTM", "RNA EDITING", "MASS SPECTROMETRY",
        "POLYMORPHISM", "DISEASE", "DISRUPTION PHENOTYPE", "ALLERGEN", "TOXIC DOSE",
        "BIOTECHNOLOGY", "PHARMACEUTICAL", "MISCELLANEOUS", "SIMILARITY", "CAUTION",
        "SEQUENCE CAUTION", "WEB RESOURCE",
    )
)

# Topics whose content is a table rather than prose: their XML form shares no wording with the
# flat file, and they carry little text worth training on. Parsers leave them out of `comments`.
SKIPPED_TOPICS = frozenset(
    (
        "INTERACTION", "ALTERNATIVE PRODUCTS", "WEB RESOURCE", "SEQUENCE CAUTION",
        "MASS SPECTROMETRY", "BIOPHYSICOCHEMICAL PROPERTIES", "RNA EDITING",
    )
)

# One pass removes every annotation we drop. Each alternative starts with "{", "(" or "[", which
# lets the regex engine skip ahead between candidates; the spaces left behind are closed up later.
_DROP = re.compile(
    r"\{ECO:[^{}]*\}"
    r"|\((?:\s*PubMed:\d+\s*,?)+\)"
    r"|\[MIM:[^\]]*\]"
    r"|\((?:By similarity|Probable|Potential)\)"
)
_TOPIC_PREFIX = re.compile(r"^([A-Z][A-Z ]*[A-Z]):\s*")
# ".." not part of "...": the literal comes first (the look-behind checks the character before it
# once matched), so the engine skips to each ".." instead of trying a look-behind at every position.
_DOUBLE_PERIOD = re.compile(r"\.\.(?<!\.\.\.)(?!\.)")
_SPACE_BEFORE_PUNCT = re.compile(r" (?=[.,;:)])")
_SEP = "\x00"  # joins the texts of one entry so that they are cleaned in one pass


def _clean(text: str) -> str:
    """The cleaning proper, on one text or on several joined by _SEP (never crossed)."""
    text = _DROP.sub("", text)
    if "Note=" in text:
        text = text.replace("Note=", "")
    if "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    while "  " in text:  # cheaper than split/join when the text is already one line
        text = text.replace("  ", " ")
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    if "( " in text or "()" in text:
        text = text.replace("( ", "(").replace("()", "")
        text = " ".join(_SPACE_BEFORE_PUNCT.sub("", text).split())
    if ".." in text:
        text = _DOUBLE_PERIOD.sub(".", text)
    return text


def clean_text(text: str) -> str:
    """Clean one UniProt free-text comment (see the module docstring for the rules)."""
    m = _TOPIC_PREFIX.match(text)
    if m and m.group(1) in TOPICS:
        text = text[m.end() :]
    return _clean(text).strip()


def strip_evidence(text: str) -> str:
    """Remove `{ECO:...}` tags only (names, keywords and gene names carry them)."""
    if "{" not in text:
        return text.strip()
    return re.sub(r"\s*\{[^{}]*\}", "", text).strip()


_FIELD_KEYS = ("Reaction", "Xref", "EC", "Evidence", "PhysiologicalDirection", "Name")


def _fields(text: str) -> list[list[str]]:
    """Split `Key=value; Key=value;` into [key, value] pairs; a piece without a known key belongs to
    the previous value (a reaction may itself contain "; ")."""
    out: list[list[str]] = []
    for piece in strip_evidence(text).split(";"):
        key, eq, value = piece.strip().partition("=")
        if eq and key in _FIELD_KEYS:
            out.append([key, value.strip()])
        elif out and piece.strip():
            out[-1][1] += ";" + piece
    return out


def _split_molecule(text: str) -> tuple[str, str]:
    """Split a leading "[Isoform 2]: " (the comment applies to one molecule) from the rest."""
    if text.startswith("["):
        end = text.find("]:")
        if end > 0:
            return text[: end + 2] + " ", text[end + 2 :].strip()
    return "", text


def _reaction(text: str) -> str:
    """`Reaction=A + B = C; Xref=...; EC=1.2.3.4; Evidence=...;` -> "A + B = C (EC 1.2.3.4)."."""
    reaction = ec = ""
    for key, value in _fields(text):
        if key == "Reaction" and not reaction:
            reaction = value
        elif key == "EC" and not ec:
            ec = value
    if not reaction:
        return text
    return f"{reaction} (EC {ec})." if ec else f"{reaction}."


def _cofactor(text: str) -> str:
    """`Name=X; Xref=...; Evidence=...; Name=Y; ...; Note=text;` -> "X; Y. text"."""
    note = ""
    at = text.find("Note=")
    if at >= 0:
        text, note = text[:at], strip_evidence(text[at + 5 :]).rstrip(";").strip()
    names = [value for key, value in _fields(text) if key == "Name"]
    if not names:
        return note
    return "; ".join(names) + ". " + note


def _structured(topic: str, text: str) -> str:
    """CATALYTIC ACTIVITY and COFACTOR `Key=value;` blocks -> sentences; other text unchanged."""
    if topic == "CATALYTIC ACTIVITY" and "Reaction=" in text:
        prefix, rest = _split_molecule(" ".join(text.split()))
        return prefix + _reaction(rest)
    if topic == "COFACTOR" and "Name=" in text:
        prefix, rest = _split_molecule(" ".join(text.split()))
        return prefix + _cofactor(rest)
    return text


def clean_comment(topic: str, text: str) -> str:
    """Clean the text of one comment of `topic` (structured topics first become sentences)."""
    return clean_text(_structured(topic, text))


def clean_comments(topics: list[str], texts: list[str]) -> list[str]:
    """`clean_comment` over the comments of one entry, with one regex pass for all of them."""
    joined = _SEP.join([_structured(t, x) for t, x in zip(topics, texts)])
    return [x.strip() for x in _clean(joined).split(_SEP)]


# A line that ends in a hyphen glued to a word was wrapped inside a hyphenated word ("non-" +
# "covalently"): UniProt's XML and TSV carry "non-covalently". "C- and N-terminal" keeps its space.
# The pattern starts with the literal "-" (the look-behind comes after it) so that the regex engine
# can skip to candidates instead of trying the look-behind at every position.
_HYPHEN_WRAP = re.compile(r"-(?<=[^\s-]-)\n[ \t]*(?!(?:and|or|nor|to)\b|-!-)")


def join_wrapped(text: str) -> str:
    """Undo the wrapping of hyphenated words in flat-file text; other line breaks are left for the
    cleaning, which collapses all whitespace."""
    if "-\n" in text:
        text = _HYPHEN_WRAP.sub("-", text)
    return text


def _matching_open(text: str, close: int) -> int:
    """Index of the "(" that opens the ")" at `close`, or -1."""
    depth = 0
    for i in range(close, -1, -1):
        ch = text[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            depth -= 1
            if depth == 0:
                return i
    return -1


_COMPONENTS = re.compile(r"\s*\[(?:Includes|Contains|Cleaved into):")


def _cut_components(text: str) -> str:
    """Remove "[Includes: ...]" style sections (brackets may nest: "[quinone]" inside a name)."""
    while m := _COMPONENTS.search(text):
        depth, end = 0, len(text)
        for i in range(text.index("[", m.start()), len(text)):
            if text[i] == "[":
                depth += 1
            elif text[i] == "]":
                depth -= 1
                if depth == 0:
                    end = i + 1
                    break
        text = (text[: m.start()] + " " + text[end:]).strip()
    return text


_EC_IN_NAMES = re.compile(r"\(EC ([0-9n.\-]+)\)")


def parse_protein_names(text: str) -> tuple[str | None, list[str], list[str]]:
    """Parse "Name (Alt 1) (Alt 2) (EC 1.2.3.4) [Includes: ...] (Fragment)" — the pre-2008 DE line
    and the TSV "Protein names" cell — into (recommended name, alternative names, EC numbers).

    Names inside `[Includes: ...]`/`[Contains: ...]`/`[Cleaved into: ...]` belong to components and
    are dropped (as in the current formats); their EC numbers are kept.
    """
    text = strip_evidence(text.strip())
    if text.endswith("."):
        text = text[:-1].rstrip()
    ecs = _EC_IN_NAMES.findall(text)
    text = _cut_components(text)
    alts: list[str] = []
    while text.endswith(")"):
        start = _matching_open(text, len(text) - 1)
        if start <= 0 or text[start - 1] != " ":
            break  # "NAD(P)H" style: the parentheses are part of the name
        group = text[start + 1 : -1].strip()
        text = text[:start].rstrip()
        if group.startswith("EC ") or group in ("Fragment", "Fragments"):
            continue
        alts.insert(0, group)
    return (text or None), alts, ecs
