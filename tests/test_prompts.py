import pytest

from proteinlm.bench.prompts import LETTER, OFFICIAL, load_prompt_format
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
