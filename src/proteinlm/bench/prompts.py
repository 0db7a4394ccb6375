"""Prompt formats: how an MCQ becomes the text a model reads, and how its answer labels look.

- `official`: the published ProteinLMBench instructions and layout (numbered "option N: ..." lines,
  ending in "The correct option is:"; "option 7" means "unsure", but only where a question has
  fewer than 7 options: the published file has 7- to 10-option questions whose answer is 7).
- `letter`: options lettered A-J (any count up to Z), "Answer: $LETTER" (OpenCompass / lm-eval MMLU style).
- a user template file (YAML or JSON) with the same fields as `PromptFormat`.

A format also says what an answer looks like, so that `loglik` can score the option labels as the
next token after the prompt (`answer_prefix` + label) and `generate` knows which style to parse.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from proteinlm.errors import PromptFormatError
from proteinlm.models.base import Prompt
from proteinlm.records import MCQ

LETTERS = string.ascii_uppercase

#: the published instructions' abstention sentence; `with_abstain_label` rewrites or drops it
ABSTAIN_SENTENCE = "If you are still unsure about the answer, output option {}.\n"

OFFICIAL_INSTRUCTIONS = (
    "Answer the multiple-choice question based solely on the provided context.\n"
    + ABSTAIN_SENTENCE.format(7)
    + "Select only ONE correct option by its number. Start your response with 'The correct option is' "
    + 'followed by the option number ONLY. eg: "The correct option is Option X."\n'
    + "Think step by step."
)


@dataclass(frozen=True)
class PromptFormat:
    """A prompt layout. Templates use str.format fields: {instructions}, {question}, {options}."""

    name: str
    template: str
    option_line: str  # per option, fields {label} and {text}
    label_style: str  # "number" (1, 2, ...) or "letter" (A, B, ...)
    #: answer start used by loglik scoring; raw-text prompts already end in the cue ("...is:")
    answer_prefix_raw: str
    answer_prefix_chat: str
    #: what is appended to the answer prefix for option i (label-form), before the label
    label_sep: str = " "
    #: appended to every label of a question where one label is a prefix of another (" 1" and
    #: " 10"): P(" 1") also counts every " 10", so option 10 could never win; P(" 1.") does not
    label_end: str = "."
    instructions: str = ""
    system: str | None = None
    #: the option number the instructions reserve for "unsure"; it is an abstention only for
    #: questions with fewer options than that number (for the others it is a real answer)
    abstain_number: int | None = None
    #: matches once a reply has stated its answer in the requested form; generation may stop there
    answer_regex: str | None = None

    def label(self, index: int) -> str:
        if self.label_style == "number":
            return str(index + 1)
        if index >= len(LETTERS):
            raise PromptFormatError(
                f"prompt format {self.name!r} letters its options A-Z: option {index + 1} has no letter "
                "(use a number-labelled format such as `official`)"
            )
        return LETTERS[index]

    def abstains(self, n_options: int) -> bool:
        """Whether the abstention label means "unsure" for a question with `n_options` options
        (with as many options as the label's number, it names a real option)."""
        return self.abstain_number is not None and n_options < self.abstain_number

    def with_abstain_label(self, number: int | None) -> "PromptFormat":
        """This format with another abstention option number in its instructions (None: no
        abstention sentence at all). Only formats whose instructions state one can change it."""
        current = ABSTAIN_SENTENCE.format(self.abstain_number) if self.abstain_number is not None else None
        if current is None or current not in self.instructions:
            raise PromptFormatError(
                f"prompt format {self.name!r} has no abstention sentence ({ABSTAIN_SENTENCE.format('N')!r}) "
                "in its instructions, so its abstention label cannot be changed"
            )
        if number is not None and number < 1:
            raise PromptFormatError(f"abstention label must be an option number >= 1, not {number}")
        sentence = "" if number is None else ABSTAIN_SENTENCE.format(number)
        return replace(self, instructions=self.instructions.replace(current, sentence), abstain_number=number)

    def echoes(self, mcq: MCQ) -> list[str]:
        """Prompt text a reply may repeat without meaning it as an answer (the instructions'
        sentences, the question): extraction blanks them out, so the instructions' "option 7" or a
        number of the question is never read as the model's choice."""
        sentences = re.split(r"(?<=[.!?])\s+|\n", self.instructions)
        return [t.strip() for t in sentences + [mcq.question] if len(t.strip()) >= 12]

    def render(self, mcq: MCQ) -> str:
        options = "\n".join(
            self.option_line.format(label=self.label(i), text=text) for i, text in enumerate(mcq.options)
        )
        try:
            return self.template.format(
                instructions=self.instructions, question=mcq.question, options=options
            )
        except (KeyError, IndexError) as exc:
            raise PromptFormatError(f"prompt format {self.name!r}: unknown template field {exc}") from exc

    def prompt(self, mcq: MCQ, *, chat: bool, for_scoring: bool) -> Prompt:
        """The Prompt for a backend. For scoring, the answer prefix is part of the context."""
        prefix = ""
        if for_scoring:
            prefix = self.answer_prefix_chat if chat else self.answer_prefix_raw
        return Prompt(text=self.render(mcq), system=self.system, answer_prefix=prefix)

    def label_continuations(self, mcq: MCQ) -> list[str]:
        """Continuations for `loglik`: the option labels as they would follow the answer prefix.

        Where one label is a prefix of another (" 1" and " 10" in a 10-option question), every
        label of the question gets `label_end`, so each continuation is a complete answer."""
        labels = [self.label_sep + self.label(i) for i in range(len(mcq.options))]
        if any(a != b and b.startswith(a) for a in labels for b in labels):
            labels = [label + self.label_end for label in labels]
        return labels

    def fingerprint(self) -> str:
        """Stable hash of everything that changes the text; part of the run cache key."""
        blob = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


OFFICIAL = PromptFormat(
    name="official",
    instructions=OFFICIAL_INSTRUCTIONS,
    # Layout of the published script: instructions, then " question: ", " options: " and the
    # numbered options one per line, then the cue.
    template="{instructions}\n question: {question}\n options: {options}\nThe correct option is:",
    option_line="option {label}: {text}",
    label_style="number",
    answer_prefix_raw=" Option",
    answer_prefix_chat="The correct option is Option",
    abstain_number=7,
    # "...correct option is [Option [number]] 3" followed by a character that ends the number
    # (so "1" of "10" does not stop the reply)
    answer_regex=r"(?i)correct option(?: number)? is:?\s*\**\s*(?:option\s*(?:number\s*)?)?\(?\d+[^\d]",
)

LETTER = PromptFormat(
    name="letter",
    instructions=(
        "Answer the following multiple choice question about proteins. The last line of your response "
        "should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of "
        "the option letters."
    ),
    template="{instructions}\n\n{question}\n\n{options}\n\nAnswer:",
    option_line="{label}. {text}",
    label_style="letter",
    answer_prefix_raw="",
    answer_prefix_chat="Answer:",
    # A-J ends the reply at once; "I" only once punctuation follows, since "Answer: I think" is prose
    answer_regex=r"Answer:\s*\**\s*\(?(?:[A-HJ](?:[^A-Za-z]|$)|I[.)*:,\n])",
)

BUILTIN = {"official": OFFICIAL, "letter": LETTER}


def parse_abstain_label(text: str) -> int | None:
    """`--abstain-label`: an option number, or "none" for no abstention sentence."""
    if text.strip().lower() == "none":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise PromptFormatError(f"--abstain-label takes an option number (1, 2, ...) or `none`, not {text!r}")
    return int(text)


def load_prompt_format(spec: str) -> PromptFormat:
    """`official`, `letter`, or a path to a YAML/JSON template file.

    A template file holds the PromptFormat fields; unspecified ones default to the `official`
    format's values, except that `name` defaults to the file stem.
    """
    if spec in BUILTIN:
        return BUILTIN[spec]
    path = Path(spec)
    if not path.is_file():
        raise PromptFormatError(
            f"unknown prompt format {spec!r}: use one of {', '.join(BUILTIN)} or a path to a template file"
        )
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is reported with the file
        raise PromptFormatError(f"{path}: cannot parse prompt template: {exc}") from exc
    if not isinstance(data, dict) or "template" not in data:
        raise PromptFormatError(f"{path}: a prompt template file needs at least a 'template' field")
    fields = asdict(OFFICIAL) | {"name": path.stem} | data
    unknown = set(fields) - set(asdict(OFFICIAL))
    if unknown:
        raise PromptFormatError(f"{path}: unknown template fields {sorted(unknown)}")
    if fields["label_style"] not in ("number", "letter"):
        raise PromptFormatError(f"{path}: label_style must be 'number' or 'letter'")
    fmt = PromptFormat(**fields)
    for field in ("{question}", "{options}"):
        if field not in fmt.template:
            raise PromptFormatError(f"{path}: template must contain {field}")
    return fmt
