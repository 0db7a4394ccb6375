"""Swiss-Prot entry -> pretraining Document (dataset/uniprot/swissprot.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from uniprot_examples import (  # noqa: E402
    BARE,
    EXAMPLES,
    HBA,
    MK01,
    P53,
    PARTIAL,
    expected_index,
    probe,
    real_entries,
    seq_from_text,
)

from proteinlm.dataset.uniprot import swissprot as sp  # noqa: E402
from proteinlm.dataset.uniprot.swissprot import INTROS, LEADS, SECTIONS, entry_document  # noqa: E402

SECTION_TOPICS = list(SECTIONS)


def present_topics(entry):
    return [t for t in SECTION_TOPICS if any(x.strip() for x in entry.comments.get(t, ()))]


def assert_clean(text: str, seq_tags=("<seq>", "</seq>")):
    assert "None" not in text and "()" not in text
    assert "\n\n\n" not in text and not text.startswith("\n") and not text.endswith(("\n", " "))
    assert "  " not in text, "double space"
    assert " ." not in text and " ," not in text and ".." not in text
    for line in text.split("\n\n"):
        assert line, "empty paragraph"
        assert "\n" not in line, "one line per paragraph"
        assert line == line.strip(), f"indented or trailing whitespace: {line[:40]!r}"
        if not line.startswith(seq_tags[0]):
            assert line.endswith("."), f"paragraph does not end a sentence: {line[-40:]!r}"
    assert "{ECO:" not in text and "PubMed:" not in text and "Note=" not in text


def test_section_order_and_names():
    assert SECTION_TOPICS == [
        "FUNCTION", "SUBUNIT", "TISSUE SPECIFICITY", "INDUCTION", "DOMAIN", "PTM", "DISEASE",
        "SUBCELLULAR LOCATION", "CATALYTIC ACTIVITY",
    ]  # fmt: skip
    assert len(INTROS) >= 3
    assert all(len(LEADS[t]) >= 2 or t == "CATALYTIC ACTIVITY" for t in SECTION_TOPICS)
    assert len(sp.REACTION_LEADS) >= 2


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_topic_reaches_the_document_in_order(name):
    entry = EXAMPLES[name]
    doc = entry_document(entry)
    assert doc.id == f"swissprot-{entry.accession}" and doc.subset == "swissprot"
    topics = present_topics(entry)
    assert doc.meta == {"accession": entry.accession, "topics": topics, "length": entry.length}
    paragraphs = doc.text.split("\n\n")
    assert len(paragraphs) == 2 + len(topics), "intro, sequence, one paragraph per topic"
    for topic, paragraph in zip(topics, paragraphs[2:]):
        for text in entry.comments[topic]:
            if text.strip():
                assert probe(text, topic) in paragraph, (topic, text)
    assert_clean(doc.text)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_sequence_once_and_round_trips(name):
    entry = EXAMPLES[name]
    text = entry_document(entry).text
    assert text.count("<seq>") == 1 and text.count("</seq>") == 1
    assert seq_from_text(text) == [entry.sequence]
    assert text.split("\n\n")[1] == "<seq> " + " ".join(entry.sequence) + " </seq>"


@pytest.mark.parametrize(
    ("tags", "sep"),
    [(("<protein>", "</protein>"), " "), (("[SEQ]", "[/SEQ]"), ""), (("<aa>", "</aa>"), "|")],
)
def test_custom_seq_tags_and_separator(tags, sep):
    text = entry_document(P53, seq_tags=tags, seq_sep=sep).text
    assert "<seq>" not in text and "</seq>" not in text
    assert text.count(tags[0]) == 1 and text.count(tags[1]) == 1
    assert seq_from_text(text, tags, sep) == [P53.sequence]


def test_missing_topics_leave_no_trace():
    doc = entry_document(PARTIAL)
    # SUBUNIT is "" and INDUCTION is blank: neither is a section, neither is in meta.
    assert doc.meta["topics"] == ["FUNCTION", "SUBCELLULAR LOCATION", "CATALYTIC ACTIVITY"]
    for topic in ("SUBUNIT", "INDUCTION", "TISSUE SPECIFICITY", "DISEASE", "PTM", "DOMAIN"):
        for lead in LEADS[topic]:
            if lead != sp.IT:
                assert lead.split("{}")[0].strip() not in doc.text
    assert_clean(doc.text)
    # Whitespace inside texts is collapsed and a text without final period gets one.
    assert "Secreted, extracellular space." in doc.text
    assert "zymogen plasminogen to plasmin." in doc.text
    assert "Arg-|-Val bond in plasminogen to form plasmin." in doc.text


def test_entry_without_comments_gene_organism_or_name():
    doc = entry_document(BARE)
    intro, seq = doc.text.split("\n\n")
    assert doc.meta["topics"] == []
    assert BARE.accession in intro and "YXX1_UNKNOWN" in intro and "10 amino acids" in intro
    assert "gene" not in intro and " from " not in intro
    assert seq == "<seq> M K T A Y I A K Q R </seq>"
    assert_clean(doc.text)


def test_non_section_topics_are_left_out():
    assert "globin family" not in entry_document(HBA).text


def test_two_texts_for_one_topic_share_a_paragraph():
    text = entry_document(HBA).text
    (disease,) = [p for p in text.split("\n\n") if "HEIBAN" in p]
    assert "A-THAL" in disease and disease.index("HEIBAN") < disease.index("A-THAL")


@pytest.mark.parametrize("fields", [
    {"gene": "HBA1", "organism": "Homo sapiens (Human)", "length": "142 amino acids"},
    {"gene": "", "organism": "Homo sapiens (Human)", "length": "142 amino acids"},
    {"gene": "HBA1", "organism": "", "length": "1 amino acid"},
    {"gene": "HBA1", "organism": "Homo sapiens (Human)", "length": ""},
    {"gene": "", "organism": "", "length": ""},
])  # fmt: skip
@pytest.mark.parametrize("template", range(len(INTROS)))
def test_every_intro_template_copes_with_missing_fields(template, fields):
    f = {"acc": "P69905", "entry_name": "HBA_HUMAN", "name": "Hemoglobin subunit alpha", **fields}
    intro = INTROS[template](f)
    assert_clean(intro)
    assert intro[0].isupper() and "P69905" in intro and "Hemoglobin subunit alpha" in intro
    for value in fields.values():
        assert value in intro
    if not fields["gene"]:
        assert "gene" not in intro and "encoded" not in intro
    if not fields["length"]:
        assert "amino acid" not in intro and "long" not in intro


def test_reactions_are_reduced_to_equations():
    text = entry_document(MK01).text
    (catalytic,) = [p for p in text.split("\n\n") if "L-seryl" in p]
    assert "Reaction=" not in catalytic and "Xref" not in catalytic and "EC=" not in catalytic
    assert catalytic.endswith("O-phospho-L-threonyl-[protein].")
    assert "ATP + L-seryl-[protein] = ADP + H(+) + O-phospho-L-seryl-[protein]; ATP + L-threonyl" in catalytic
    assert sp.reactions(["Specific cleavage of Arg-|-Val bond."]) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Involved in oxygen transport.", "It is involved in oxygen transport."),
    ("Binds DNA as a homotetramer.", "It binds DNA as a homotetramer."),
    ("Up-regulated in response to DNA damage.", "It is up-regulated in response to DNA damage."),
    ("Highly expressed in liver.", "It is highly expressed in liver."),
    ("Probably acts as a chaperone.", "It probably acts as a chaperone."),
    ("May play a role in apoptosis.", "It may play a role in apoptosis."),
    ("Heterotetramer of two alpha chains.", "It is a heterotetramer of two alpha chains."),
    ("Homodimer; disulfide-linked.", "It is a homodimer; disulfide-linked."),
    ("Red blood cells.", None),
    ("ATP-dependent helicase.", None),
    ("Ubiquitous.", None),
    ("Cytoplasm. Nucleus.", None),
    ("Mainly in liver.", None),
])  # fmt: skip
def test_it_form_only_where_grammatical(text, expected):
    assert sp._it_form(text) == expected


def test_deterministic_and_pinned_to_sha512():
    for entry in EXAMPLES.values():
        a, b = entry_document(entry), entry_document(dataclasses.replace(entry))
        assert a.text == b.text
        intro = a.text.split("\n\n")[0]
        index = expected_index(entry.accession, 0, len(INTROS))
        assert intro == INTROS[index](sp.intro_fields(entry))
        # section SECTIONS[i] reads word 1 + i: each paragraph is its topic's with that lead
        sections = sp.section_texts(entry)
        paragraphs = [p for p in a.text.split("\n\n")[1:] if not p.startswith("<seq>")]
        assert paragraphs == [
            sp.topic_paragraph(t, sections[t], expected_index(entry.accession, 1 + SECTIONS.index(t), 1 << 16))
            for t in SECTIONS if t in sections
        ]


def test_identical_across_processes():
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from uniprot_examples import EXAMPLES;"
        "from proteinlm.dataset.uniprot.swissprot import entry_document;"
        "print(json.dumps({k: entry_document(e).text for k, e in EXAMPLES.items()}))"
    )
    texts = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], env=env,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        texts.add(out)
    assert len(texts) == 1
    assert json.loads(texts.pop()) == {k: entry_document(e).text for k, e in EXAMPLES.items()}


def test_phrasings_vary_across_accessions():
    entries = [dataclasses.replace(P53, accessions=(f"Q{i:05d}",)) for i in range(20)]
    docs = [entry_document(e) for e in entries]
    intro_starts = {d.text.split(" ", 2)[0] for d in docs}
    assert len(intro_starts) >= 2
    function_leads = {d.text.split("\n\n")[2][:12] for d in docs}
    assert len(function_leads) >= 2
    # Only the wording changes: every document still carries every topic.
    assert all(d.meta["topics"] == docs[0].meta["topics"] for d in docs)


def test_every_real_entry():
    entries, reason = real_entries()
    if entries is None:
        pytest.skip(reason)
    assert entries
    for fname, entry in entries:
        doc = entry_document(entry)
        where = f"{fname}:{entry.accession}"
        assert seq_from_text(doc.text) == [entry.sequence], where
        paragraphs = doc.text.split("\n\n")
        topics = present_topics(entry)
        assert doc.meta["topics"] == topics, where
        for topic, paragraph in zip(topics, paragraphs[2:]):
            for text in entry.comments[topic]:
                if text.strip():
                    assert probe(text, topic) in paragraph, (where, topic, text)
        assert_clean(doc.text)


def test_clean_text_fast_path_equals_the_full_rule():
    """clean_text returns a text unchanged when it is already clean (the parsers' output): the
    same result as the regex and the split/join on generated texts of every kind of space."""
    import random
    import re

    def full(t: str) -> str:
        if "Note=" in t:
            t = re.sub(r"(?:^|(?<=\s))Note=", "", t)
        return " ".join(t.split())

    rng = random.Random(1)
    parts = ["a", "Note=", "b.", " ", "  ", "\n", "\t", "\xa0", "\x1c", "\u2009", "é", "(x)", "Note= ", "xNote="]
    for _ in range(20000):
        t = "".join(rng.choice(parts) for _ in range(rng.randint(0, 8)))
        assert sp.clean_text(t) == full(t), repr(t)


def test_seq_to_text_every_tag_and_separator_combination():
    from proteinlm.dataset import seqtext

    for seq in ("", "M", "MK", "MKTA", "MKTAé"):
        for open_tag in ("", "<seq>", "<蛋白>"):
            for close_tag in ("", "</seq>"):
                for sep in ("", " ", "|", " | "):
                    want = sep.join([t for t in (open_tag,) if t] + list(seq) + [t for t in (close_tag,) if t])
                    assert seqtext.seq_to_text(seq, open_tag, close_tag, sep) == want
