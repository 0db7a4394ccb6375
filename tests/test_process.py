from functools import partial

from proteinlm.dataset.steps.process import (
    exact_dedup,
    length_filter,
    near_dedup,
    normalize,
    normalize_text,
    run_steps,
)
from proteinlm.records import Document

ABSTRACT_A = (
    "Hemoglobin is the oxygen-carrying protein of red blood cells. In adult humans it is a "
    "tetramer of two alpha and two beta chains, each binding one heme group. Cooperative binding "
    "of oxygen arises from the transition between the tense and relaxed quaternary states, and is "
    "modulated by 2,3-bisphosphoglycerate, protons and carbon dioxide. Here we report crystal "
    "structures of a naturally occurring variant that stabilises the relaxed state and discuss "
    "its consequences for oxygen affinity in patients with erythrocytosis."
)
ABSTRACT_B = (
    "Protein kinase A is activated when cyclic AMP binds its regulatory subunits, releasing the "
    "catalytic subunits. We used hydrogen-deuterium exchange mass spectrometry to map the "
    "conformational changes that accompany activation and identify a network of residues in the "
    "C-helix that couples nucleotide binding to substrate recognition. Mutations in this network "
    "reduced catalytic efficiency tenfold without affecting cAMP affinity, suggesting that "
    "allosteric communication and catalysis can be separated."
)
# A with two words changed: a typical re-submission / erratum copy
ABSTRACT_A2 = ABSTRACT_A.replace("crystal structures", "cryo-EM structures").replace("patients", "individuals")
SEQ = "<seq> M V L S P A D K T N V K A A W G K V G A H A G E Y G A E A L E R M F L S F P T T K </seq>"


def doc(i, text):
    return Document(id=str(i), text=text, subset="pubmed")


def test_nfc_composes_and_keeps_greek_and_superscripts():
    text = "Cafe\u0301 protein \u03b1-helix binds Ca\u00b2\u207a at 5 \u00b5M"
    out = normalize_text(text)
    assert "Caf\u00e9" in out and "\u0301" not in out
    assert "\u03b1-helix" in out and "Ca\u00b2\u207a" in out and "\u00b5M" in out  # NFKC would fold these


def test_control_chars_whitespace_and_blank_lines():
    text = "  Title\x00 of\x07 paper\t\t here \r\n\r\n\r\n\r\nBody\u00a0 text\x1b.\u200b  \rEnd  \n\n\n"
    assert normalize_text(text) == "Title of paper here\n\nBody text.\nEnd"


def test_sequences_are_byte_identical():
    odd_seq = "<seq>  M K\tT  A </seq>"  # even odd spacing inside a span is left as is
    text = f"Residues   1-40:\t{SEQ}   and \r\n\n\n\nmore {odd_seq}  end  "
    out = normalize_text(text)
    assert SEQ in out and odd_seq in out
    assert out == f"Residues 1-40: {SEQ} and\n\nmore {odd_seq} end"
    assert out.encode().count(SEQ.encode()) == 1


def test_normalize_step_stats():
    docs = [doc(1, "clean text"), doc(2, "dirty  text\x00")]
    out = list(normalize(iter(docs)))
    assert [d.text for d in out] == ["clean text", "dirty text"]
    assert out[0] is docs[0]  # unchanged documents are passed through


def test_length_filter():
    docs = [doc(1, "short"), doc(2, ABSTRACT_A), doc(3, ABSTRACT_B * 10)]
    stream, (stats,) = run_steps(docs, [partial(length_filter, min_chars=200, max_chars=2000)])
    assert [d.id for d in stream] == ["2"]
    assert stats.as_dict()["reasons"] == {"too_long": 1, "too_short": 1}
    assert stats.dropped == 2 and stats.docs_in == 3 and stats.docs_out == 1


def test_exact_dedup_keeps_first():
    docs = [doc("a", ABSTRACT_A), doc("b", ABSTRACT_B), doc("c", ABSTRACT_A.replace(" ", "  \n", 3))]
    stream, (stats,) = run_steps(docs, [exact_dedup])
    assert [d.id for d in stream] == ["a", "b"]
    assert stats.reasons["exact_duplicate"] == 1
    assert stats.examples == [{"id": "c", "duplicate_of": "a"}]


def test_near_dedup_drops_edited_copy_keeps_different():
    docs = [doc("a", ABSTRACT_A), doc("b", ABSTRACT_B), doc("a2", ABSTRACT_A2)]
    stream, (stats,) = run_steps(docs, [near_dedup])
    assert [d.id for d in stream] == ["a", "b"]
    assert stats.as_dict()["dropped"] == 1
    assert stats.examples == [{"id": "a2", "duplicate_of": "a"}]


def test_near_dedup_keeps_same_topic_different_text():
    other = (
        "Myoglobin stores oxygen in muscle. Unlike hemoglobin it is a monomer and binds oxygen "
        "without cooperativity. We measured the oxygen affinity of myoglobin from diving mammals "
        "and relate the higher surface charge of these proteins to their high concentration in "
        "muscle tissue, which would otherwise lead to aggregation of the protein at low temperature."
    )
    stream, (stats,) = run_steps([doc("a", ABSTRACT_A), doc("m", other)], [near_dedup])
    assert [d.id for d in stream] == ["a", "m"] and stats.dropped == 0


def test_pipeline_deterministic():
    def run():
        docs = [doc(i, t) for i, t in enumerate([ABSTRACT_A, "tiny", ABSTRACT_B, ABSTRACT_A2, ABSTRACT_A + " \x00", ABSTRACT_B])]
        stream, stats = run_steps(docs, [normalize, length_filter, exact_dedup, near_dedup])
        return [(d.id, d.text) for d in stream], [s.as_dict() for s in stats]

    first = run()
    assert first == run()
    kept, stats = first
    assert [i for i, _ in kept] == ["0", "2"]
    assert [s["name"] for s in stats] == ["normalize", "length_filter", "exact_dedup", "near_dedup"]
    assert [s["dropped"] for s in stats] == [0, 1, 2, 1]
