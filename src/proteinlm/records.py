"""The vocabulary shared by every room: small, typed, immutable records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MCQ:
    """One multiple-choice question.

    `options` hold the option texts *without* their "option N: " labels (loaders strip them, prompt
    formats add their own); `answer` is the 0-based index of the correct option.
    """

    id: str
    question: str
    options: tuple[str, ...]
    answer: int
    explanation: str = ""
    category: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def answer_label(self) -> str:
        """The answer as the official files write it ("option 3")."""
        return f"option {self.answer + 1}"


@dataclass(frozen=True)
class ProteinEntry:
    """One UniProtKB entry, the same whatever file format it came from (flat file, XML, TSV).

    Free text (comments) is already cleaned of evidence tags, citations and topic prefixes;
    `comments` maps the flat-file topic name ("FUNCTION", "SUBUNIT", "TISSUE SPECIFICITY",
    "CATALYTIC ACTIVITY", "SUBCELLULAR LOCATION", ...) to that topic's texts in file order.
    """

    accessions: tuple[str, ...]  # primary accession first
    entry_name: str  # e.g. "HBA_HUMAN"
    sequence: str
    reviewed: bool = True
    recommended_name: str | None = None
    alternative_names: tuple[str, ...] = ()
    gene_names: tuple[str, ...] = ()
    organism: str | None = None
    taxon_id: int | None = None
    comments: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ec_numbers: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    go_terms: tuple[str, ...] = ()  # GO ids, e.g. "GO:0005344"
    pubmed_ids: tuple[str, ...] = ()
    pdb_ids: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # "file:line" of the entry's start

    @property
    def accession(self) -> str:
        return self.accessions[0]

    @property
    def length(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True)
class Enzyme:
    """One ExPASy ENZYME entry (`enzyme.dat`)."""

    ec: str  # "3.1.1.34"
    accepted_name: str
    alternative_names: tuple[str, ...] = ()
    reactions: tuple[str, ...] = ()  # catalytic activities (CA), one per reaction
    comments: tuple[str, ...] = ()
    cofactors: tuple[str, ...] = ()
    swissprot: tuple[tuple[str, str], ...] = ()  # (accession, entry name) cross-references
    transferred_to: tuple[str, ...] = ()  # a transferred entry points to its new EC numbers
    deleted: bool = False
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class Document:
    """A pretraining document."""

    id: str
    text: str
    subset: str  # e.g. "swissprot", "pubmed", "pmc"
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Instruction:
    """An alpaca-style SFT example."""

    id: str
    instruction: str
    input: str
    output: str
    task: str  # e.g. "function", "subunit", "ecot"
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Section:
    """One titled part of an article (abstract or body section); paragraphs split by blank lines."""

    title: str
    text: str


@dataclass(frozen=True)
class Article:
    """One PubMed citation or PMC full-text article."""

    id: str
    title: str
    sections: tuple[Section, ...]
    pmid: str | None = None
    pmcid: str | None = None
    doi: str | None = None
    journal: str | None = None
    year: int | None = None
    language: str | None = None
    mesh_terms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    deleted: bool = False
    source: str = field(default="", compare=False)
