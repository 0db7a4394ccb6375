import re

import pytest

from proteinlm.bench.prompts import LETTER, OFFICIAL, load_prompt_format, parse_abstain_label
from proteinlm.errors import PromptFormatError
from proteinlm.records import MCQ

Q = MCQ("q1", "Which protein carries oxygen in blood?", ("Insulin", "Hemoglobin", "Collagen"), 1)


def test_official_layout_is_the_published_one():
    text = OFFICIAL.render(Q)
    assert text.startswith(
        "Answer the multiple-choice question based solely on the provided context.\n"
        "If you are still unsure about the answer, output option 7.\n"
    )
    assert text.endswith(
        "\n question: Which protein carries oxygen in blood?\n"
        " options: option 1: Insulin\noption 2: Hemoglobin\noption 3: Collagen\n"
        "The correct option is:"
    )
    assert OFFICIAL.label_continuations(Q) == [" 1", " 2", " 3"]
    p = OFFICIAL.prompt(Q, chat=False, for_scoring=True)
    assert (p.text + p.answer_prefix).endswith("The correct option is: Option")


def test_letter_layout():
    text = LETTER.render(Q)
    assert "\n\nA. Insulin\nB. Hemoglobin\nC. Collagen\n\nAnswer:" in text
    assert LETTER.label_continuations(Q) == [" A", " B", " C"]


def test_user_template_file(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("template: |-\n  Q: {question}\n  {options}\n  A:\noption_line: '({label}) {text}'\nlabel_style: letter\n")
    fmt = load_prompt_format(str(f))
    assert fmt.name == "mine"
    assert fmt.render(Q) == "Q: Which protein carries oxygen in blood?\n(A) Insulin\n(B) Hemoglobin\n(C) Collagen\nA:"
    assert fmt.fingerprint() != OFFICIAL.fingerprint()


@pytest.mark.parametrize(
    "content, message",
    [
        ("option_line: '{label}'\n", "template"),
        ("template: '{question}'\n", "{options}"),
        ("template: '{question} {options}'\nlabel_style: roman\n", "label_style"),
        ("template: '{question} {options}'\ncolour: red\n", "unknown template fields"),
        ("template: [unclosed\n", "cannot parse"),
    ],
)
def test_bad_template_files(tmp_path, content, message):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    with pytest.raises(PromptFormatError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_prompt_format(str(f))


def test_unknown_format_name():
    with pytest.raises(PromptFormatError, match="official"):
        load_prompt_format("fancy")


# ---------------------------------------------------------------- 2 to 10 options

TEN = MCQ("q10", "Which amino acid has an indole side chain?",
          ("Alanine", "Glycine", "Serine", "Leucine", "Valine", "Proline", "Lysine", "Aspartate", "Glutamine",
           "Tryptophan"), 9)


def test_letter_format_goes_to_j():
    text = LETTER.render(TEN)
    assert "\nI. Glutamine\nJ. Tryptophan\n\nAnswer:" in text
    assert LETTER.label_continuations(TEN)[-2:] == [" I", " J"]


def test_loglik_labels_are_never_a_prefix_of_one_another():
    # six options: the labels as before; ten: " 1" would be a prefix of " 10", so every label ends
    six = MCQ("q6", "Q?", tuple("abcdef"), 0)
    assert OFFICIAL.label_continuations(six) == [" 1", " 2", " 3", " 4", " 5", " 6"]
    labels = OFFICIAL.label_continuations(TEN)
    assert labels == [f" {i}." for i in range(1, 11)]
    assert not any(a != b and b.startswith(a) for a in labels for b in labels)


def test_letters_beyond_z_are_an_error():
    many = MCQ("q27", "Q?", tuple(f"o{i}" for i in range(27)), 0)
    with pytest.raises(PromptFormatError, match="option 27"):
        LETTER.render(many)
    assert "option 27: o26" in OFFICIAL.render(many)


@pytest.mark.parametrize("reply, stops", [
    ("The correct option is Option 10.", True),
    ("The correct option is 1", False),  # "1" may become "10": not yet
    ("The correct option is 10\n", True),
    ("the correct option is option number 2.", True),
    ("The correct option is: (3)", True),
])
def test_official_stop_regex(reply, stops):
    assert bool(re.search(OFFICIAL.answer_regex, reply)) is stops


@pytest.mark.parametrize("reply, stops", [
    ("Answer: J", True),
    ("Answer: G.", True),
    ("Answer: (I)", True),
    ("Answer: I.", True),
    ("Answer: I think", False),  # "I" is a word until punctuation says otherwise
    ("Answer: I", False),
    ("Answer: The", False),
])
def test_letter_stop_regex(reply, stops):
    assert bool(re.search(LETTER.answer_regex, reply)) is stops


# ---------------------------------------------------------------- abstention label


def test_option_7_abstains_only_below_7_options():
    assert OFFICIAL.abstain_number == 7
    assert OFFICIAL.abstains(6) and not OFFICIAL.abstains(7) and not OFFICIAL.abstains(10)
    assert not LETTER.abstains(4)


def test_another_abstention_label():
    eleven = OFFICIAL.with_abstain_label(11)
    assert "If you are still unsure about the answer, output option 11.\n" in eleven.render(TEN)
    assert "option 7." not in eleven.render(TEN)
    assert eleven.abstains(10) and eleven.fingerprint() != OFFICIAL.fingerprint()
    assert OFFICIAL.with_abstain_label(7) == OFFICIAL
    none = OFFICIAL.with_abstain_label(None)
    assert "unsure" not in none.render(TEN) and not none.abstains(2)
    assert none.render(TEN).startswith(
        "Answer the multiple-choice question based solely on the provided context.\nSelect only ONE")
    with pytest.raises(PromptFormatError, match="no abstention sentence"):
        LETTER.with_abstain_label(11)
    with pytest.raises(PromptFormatError, match=">= 1"):
        OFFICIAL.with_abstain_label(0)


@pytest.mark.parametrize("text, value", [("11", 11), ("none", None), ("None", None)])
def test_parse_abstain_label(text, value):
    assert parse_abstain_label(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "seven", "7.5", ""])
def test_parse_abstain_label_rejects(text):
    with pytest.raises(PromptFormatError, match="abstain-label"):
        parse_abstain_label(text)


def test_echoes_hold_the_instruction_sentences_and_the_question():
    echoes = OFFICIAL.echoes(TEN)
    assert "If you are still unsure about the answer, output option 7." in echoes
    assert TEN.question in echoes
    assert not any(e.startswith("option ") for e in echoes)  # option lines are answers when repeated
