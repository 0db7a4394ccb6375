"""Swiss-Prot entry -> pretraining `Document`: an introduction, the sequence, one paragraph per topic.

The text mixes prose and a `<seq> M K T ... </seq>` block so that a model sees sequences and the
annotations about them side by side. Phrasings vary between entries (so the model does not learn
one template by heart) but are chosen with a stable hash of the accession, so the same entry always
gives byte-identical text in any process, on any machine (Python's `hash()` is salted per process).

The helpers `stable_choices`, `clean_text`, `join_texts` and `reactions` are shared with
`dataset.uniprot.topic_tasks`, which phrases the same comment topics as SFT targets.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable, Sequence

from proteinlm.records import Document, ProteinEntry

# The comment topics that become sections, in the order the document lists them; the rest
# (SIMILARITY, WEB RESOURCE, ALTERNATIVE PRODUCTS, ...) is catalogue data, not prose about the protein.
SECTIONS: tuple[str, ...] = (
    "FUNCTION",
    "SUBUNIT",
    "TISSUE SPECIFICITY",
    "INDUCTION",
    "DOMAIN",
    "PTM",
    "DISEASE",
    "SUBCELLULAR LOCATION",
    "CATALYTIC ACTIVITY",
)

# Marks a lead-in variant that turns the first sentence into "It ..." (only when it can: see
# `_it_form`); otherwise the topic's first label is used instead.
IT = "<it>"

# Lead-ins per topic. Each "{}" takes the topic's texts as UniProt writes them: sentences that
# usually start with a verb or a noun and have no subject ("Involved in ...", "Homodimer."),
# which is why label-and-colon forms are the default and "It ..." is used only when it is safe.
LEADS: dict[str, tuple[str, ...]] = {
    "FUNCTION": ("Function: {}", "Its function is described as follows: {}", IT),
    "SUBUNIT": ("Subunit structure: {}", "Quaternary structure and interactions: {}", IT),
    "TISSUE SPECIFICITY": ("Tissue specificity: {}", "Its tissue distribution is as follows: {}", IT),
    "INDUCTION": ("Induction: {}", "Its expression is regulated as follows: {}", IT),
    "DOMAIN": ("Domain: {}", "Regarding its domain structure: {}", IT),
    "PTM": ("Post-translational modification: {}", "Post-translational modifications of this protein: {}", IT),
    "DISEASE": ("Involvement in disease: {}", "Clinical significance: {}", "Disease association: {}"),
    "SUBCELLULAR LOCATION": (
        "Subcellular location: {}",
        "Location in the cell: {}",
        "Its subcellular location is as follows: {}",
    ),
    "CATALYTIC ACTIVITY": ("Catalytic activity: {}",),  # texts that are not reaction equations
}

# Catalytic activity written as reaction equations gets its own phrasings (one vs several).
REACTION_LEADS: tuple[tuple[str, str], ...] = (
    ("Catalytic activity: {}", "Catalytic activities: {}"),
    ("It catalyzes the reaction {}", "It catalyzes the following reactions: {}"),
    ("The enzyme catalyzes the following reaction: {}", "The enzyme catalyzes the following reactions: {}"),
)


def _intro_0(f: dict[str, str]) -> str:
    named = f" ({f['entry_name']})" if f["entry_name"] != f["name"] else ""
    s = f"UniProtKB/Swiss-Prot entry {f['acc']}{named} describes {f['name']}"
    s += f", a protein of {f['length']}" if f["length"] else ", a protein"
    s += f" from {f['organism']}" if f["organism"] else ""
    s += f", encoded by the gene {f['gene']}" if f["gene"] else ""
    return s + "."


def _intro_1(f: dict[str, str]) -> str:
    s = f"The protein {f['name']}"
    s += f" (gene {f['gene']})" if f["gene"] else ""
    s += f" from {f['organism']}" if f["organism"] else ""
    s += f" has the UniProt accession {f['acc']}"
    s += f" and is {f['length']} long." if f["length"] else "."
    return s


def _intro_2(f: dict[str, str]) -> str:
    s = f"This text describes {f['name']}"
    s += f", the product of the {f['gene']} gene" if f["gene"] else ""
    s += f" in {f['organism']}" if f["organism"] else ""
    s += f", with UniProt accession {f['acc']}."
    s += f" It is {f['length']} long." if f["length"] else ""
    return s


def _intro_3(f: dict[str, str]) -> str:
    s = f"Accession {f['acc']}: {f['name']}"
    s += f" from {f['organism']}" if f["organism"] else ""
    s += "."
    s += f" The protein is encoded by {f['gene']}" if f["gene"] else ""
    if f["length"]:
        s += f" and is {f['length']} long." if f["gene"] else f" The protein is {f['length']} long."
    elif f["gene"]:
        s += "."
    return s


# Introduction templates; each copes with a missing gene, organism or sequence by leaving the
# clause out, so no "None" or dangling comma can reach the text.
INTROS: tuple[Callable[[dict[str, str]], str], ...] = (_intro_0, _intro_1, _intro_2, _intro_3)

# Words that open UniProt sentences and read naturally after "It " (verbs, modals, adverbs) or
# "It is " (participles, adjectives). A whitelist, not a guess: "Red blood cells." must stay a label.
_IT_VERBS = frozenset(
    "acts activates associates binds catalyzes cleaves confers contains contributes controls converts "
    "displays enhances exhibits facilitates forms functions has hydrolyzes induces inhibits interacts "
    "localizes mediates modulates participates plays possesses prevents promotes protects recognizes "
    "regulates represses serves shows stimulates transfers transports may might can could".split()
)
_IT_ADVERBS = frozenset(
    "also probably possibly specifically negatively positively directly mainly predominantly highly "
    "widely ubiquitously strongly weakly primarily preferentially abundantly exclusively "
    "constitutively".split()
)
_IT_PARTICIPLES = frozenset(
    "involved required expressed induced repressed phosphorylated located localized found detected "
    "present essential necessary responsible important able secreted glycosylated ubiquitinated "
    "acetylated methylated sumoylated cleaved processed activated inhibited regulated up-regulated "
    "upregulated down-regulated downregulated produced synthesized degraded stabilized associated "
    "thought believed proposed predicted".split()
)
_OLIGOMER = re.compile(r"^(?:monomer|(?:homo|hetero)(?:di|tri|tetra|penta|hexa|hepta|octa|dodeca|oligo|multi)mer)$")


# Each phrasing choice of an entry reads its own number of `stable_choices`: the introduction
# number 0, the document's section for SECTIONS[i] number 1 + i, the SFT task TASKS[i]
# (dataset.uniprot.topic_tasks) number 16 + i. Choices are thus independent of each other.
INTRO_CHOICE = 0
SECTION_CHOICE = {topic: 1 + i for i, topic in enumerate(SECTIONS)}


def stable_choices(accession: str, _sha512=hashlib.sha512, _words=struct.Struct(">32H").unpack) -> tuple[int, ...]:
    """32 numbers in range(65536) fixed by the accession: its SHA-512 as big-endian 16-bit words.
    A phrasing among n is `choices[k] % n` (n is at most a handful: the bias, 1/65536, is nil).
    One hash per entry serves all of its choices."""
    return _words(_sha512(accession.encode("utf-8")).digest())


_NOTE = re.compile(r"(?:^|(?<=\s))Note=")


def clean_text(text: str) -> str:
    """Collapse runs of whitespace, so neither double spaces nor line breaks reach a paragraph.

    A flat-file "Note=" field marker (DISEASE, SUBCELLULAR LOCATION), if a parser kept it, is
    dropped: the note reads as the next sentence of the paragraph.
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " " and "Note=" not in text:
        return text  # what the parsers' cleaning gives: no space but single " " between words
    if "Note=" in text:  # the look-behind regex is slow: run it only where it can match
        text = _NOTE.sub("", text)
    return " ".join(text.split())


def _sentence(text: str) -> str:
    """End a text with terminal punctuation (UniProt texts usually have it; TSV ones may not)."""
    return text if text.endswith((".", "!", "?")) else text + "."


def join_texts(texts: Sequence[str]) -> str:
    """The texts of one topic, as `topic_texts` gives them (cleaned, non-empty), as one paragraph
    of complete sentences."""
    if len(texts) == 1:  # most topics have one text
        return _sentence(texts[0])
    return " ".join([_sentence(t) for t in texts])


def topic_texts(entry: ProteinEntry, topic: str) -> tuple[str, ...]:
    """The topic's non-empty texts, whitespace-normalised (empty tuple if the entry lacks it)."""
    texts = []
    for x in entry.comments.get(topic, ()):  # a plain loop: ~3x faster than nested generators
        if x and (t := clean_text(x)):
            texts.append(t)
    return tuple(texts)


def section_texts(entry: ProteinEntry) -> dict[str, tuple[str, ...]]:
    """`topic_texts` of every section topic the entry has: computed once, shared by the document
    and the SFT tasks of an entry."""
    out = {}
    for topic in SECTIONS:
        if topic in entry.comments and (texts := topic_texts(entry, topic)):
            out[topic] = texts
    return out


_REACTION_FIELD = re.compile(r";\s*(?:Xref|EC|Evidence|PhysiologicalDirection)=")


def reactions(texts: Sequence[str]) -> list[str] | None:
    """The reaction equations of CATALYTIC ACTIVITY texts (as `topic_texts` gives them), or None
    when some text is not one.

    Modern entries hold a Rhea equation ("A + B = C + D"); parsers may keep a "Reaction=" prefix
    and trailing "; Xref=...; EC=..." fields, which are dropped here. Old entries (before 2019)
    also have free text such as "Specific cleavage of Arg-|-Val bond ...", phrased as a label.
    """
    out = []
    for t in texts:
        if t.startswith("Reaction="):
            t = _REACTION_FIELD.split(t[len("Reaction="):], maxsplit=1)[0]
        t = t.rstrip(" .;")
        if " = " not in t:
            return None
        out.append(t)
    return out or None


def _it_form(text: str) -> str | None:
    """"Involved in X." -> "It is involved in X.", "Binds DNA." -> "It binds DNA.", else None."""
    words = text.split(" ", 2)
    first = words[0].lower()
    second = words[1].lower().rstrip(",.;:") if len(words) > 1 else ""
    # Only a capitalised common word ("Binds", "Up-regulated") may be lowered; "ATP-dependent"
    # or a gene name at the start must keep its case, so such sentences keep a label instead.
    if len(words) < 2 or not (words[0][:1].isupper() and words[0][1:].islower()):
        return None
    lowered = first + text[len(first):]
    if first in _IT_VERBS:
        return "It " + lowered
    if first in _IT_PARTICIPLES:
        return "It is " + lowered
    if first in _IT_ADVERBS and second in _IT_VERBS:
        return "It " + lowered
    if first in _IT_ADVERBS and second in _IT_PARTICIPLES:
        return "It is " + lowered
    if _OLIGOMER.match(first.rstrip(",.;:")):
        return "It is a " + lowered
    return None


def topic_paragraph(topic: str, texts: Sequence[str], choice: int) -> str:
    """One paragraph for a topic, its lead-in number `choice` modulo their count (the entry's
    `stable_choices`, see SECTION_CHOICE); `texts` as `topic_texts` gives them (cleaned, non-empty)."""
    if topic == "CATALYTIC ACTIVITY" and (eqs := reactions(texts)):
        one, many = REACTION_LEADS[choice % len(REACTION_LEADS)]
        return (one if len(eqs) == 1 else many).format("; ".join(eqs)) + "."
    body = join_texts(texts)
    leads = LEADS[topic]
    lead = leads[choice % len(leads)]
    if lead == IT:
        if (it := _it_form(body)) is not None:
            return it
        lead = leads[0]
    return lead.format(body)


def _length_phrase(n: int) -> str:
    return "" if n == 0 else "1 amino acid" if n == 1 else f"{n} amino acids"


def intro_fields(entry: ProteinEntry) -> dict[str, str]:
    """The facts the introduction mentions; "" for what the entry lacks."""
    return {
        "acc": entry.accession,
        "entry_name": entry.entry_name,
        "name": clean_text(entry.recommended_name or "") or entry.entry_name,
        "length": _length_phrase(entry.length),
        # Some parsers keep the flat file's final period on OS lines; the templates add their own.
        "organism": clean_text(entry.organism or "").rstrip("."),
        "gene": clean_text(entry.gene_names[0]) if entry.gene_names else "",
    }


def entry_paragraphs(
    entry: ProteinEntry,
    *,
    seq_tags: tuple[str, str] = ("<seq>", "</seq>"),
    seq_sep: str = " ",
    sections: dict[str, tuple[str, ...]] | None = None,
    seq_text: str | None = None,
    choices: tuple[int, ...] | None = None,
) -> tuple[list[str], list[str]]:
    """(paragraphs, topics) of an entry's document: the text is the paragraphs joined by blank
    lines (the build counts tokens paragraph by paragraph, without cutting the text again).
    `choices`: the entry's `stable_choices`, if already computed."""
    if choices is None:
        choices = stable_choices(entry.accession)
    paragraphs = [INTROS[choices[INTRO_CHOICE] % len(INTROS)](intro_fields(entry))]
    if entry.sequence:  # a TSV download may lack the Sequence column; the text is still useful
        if seq_text is None:
            from proteinlm.dataset.seqtext import seq_to_text  # sibling helper, imported when used

            seq_text = seq_to_text(entry.sequence, open_tag=seq_tags[0], close_tag=seq_tags[1], sep=seq_sep)
        paragraphs.append(seq_text)
    if sections is None:
        sections = section_texts(entry)
    topics = []
    for topic in SECTIONS:
        texts = sections.get(topic)
        if texts:
            paragraphs.append(topic_paragraph(topic, texts, choices[SECTION_CHOICE[topic]]))
            topics.append(topic)
    return paragraphs, topics


def entry_document(
    entry: ProteinEntry,
    *,
    seq_tags: tuple[str, str] = ("<seq>", "</seq>"),
    seq_sep: str = " ",
    sections: dict[str, tuple[str, ...]] | None = None,
    seq_text: str | None = None,
) -> Document:
    """The pretraining document of one entry; deterministic in the entry's content.
    `sections` (`section_texts(entry)`) and `seq_text` may be given when already computed."""
    paragraphs, topics = entry_paragraphs(
        entry, seq_tags=seq_tags, seq_sep=seq_sep, sections=sections, seq_text=seq_text
    )
    acc = entry.accession
    return Document(
        id=f"swissprot-{acc}",
        text="\n\n".join(paragraphs),
        subset="swissprot",
        meta={"accession": acc, "topics": topics, "length": entry.length},
    )
