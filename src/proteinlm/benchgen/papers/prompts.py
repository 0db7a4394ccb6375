"""The prompt templates of the paper pipeline: package files a user can replace (`--prompts DIR`).

Templates are `str.format` texts (literal braces doubled):
  question.txt   generator, per chunk: {title} {sections} {chunk} {summary_block} {k} {n_options}
  summarise.txt  generator, optional first step per chunk: {title} {sections} {chunk}
  repair.txt     generator, one round when its reply was not valid JSON: {reply} {error}
  context.txt    validator, the passage put before the official ProteinLMBench prompt: {passage} {prompt}
A directory given with `--prompts` may hold any subset; the others come from the package. Each
template's SHA-256 goes into the cache key of every call made with it and into the provenance.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from proteinlm.errors import PromptFormatError

FIELDS = {
    "question": {"title", "sections", "chunk", "summary_block", "k", "n_options"},
    "summarise": {"title", "sections", "chunk"},
    "repair": {"reply", "error"},
    "context": {"passage", "prompt"},
}
REQUIRED = {"question": {"chunk"}, "summarise": {"chunk"}, "repair": {"reply"}, "context": {"passage", "prompt"}}


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def render(self, **values) -> str:
        return self.text.format(**values)


def _check(name: str, text: str, source: str) -> None:
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise PromptFormatError(f"{source}: not a valid template ({exc}; literal braces are written {{{{ }}}})") from exc
    unknown = used - FIELDS[name]
    if unknown:
        raise PromptFormatError(f"{source}: unknown field(s) {sorted(unknown)}; allowed: {sorted(FIELDS[name])}")
    missing = REQUIRED[name] - used
    if missing:
        raise PromptFormatError(f"{source}: the template must use {sorted(missing)}")


def load_templates(override: str | Path | None = None) -> dict[str, Template]:
    """The four templates: `override/<name>.txt` where present, else the package's."""
    out: dict[str, Template] = {}
    folder = Path(override) if override else None
    if folder is not None and not folder.is_dir():
        raise PromptFormatError(f"--prompts {folder}: not a directory")
    for name in FIELDS:
        path = folder / f"{name}.txt" if folder else None
        if path is not None and path.is_file():
            text, source = path.read_text(encoding="utf-8"), str(path)
        else:
            ref = resources.files("proteinlm.benchgen.papers") / "prompts" / f"{name}.txt"
            text, source = ref.read_text(encoding="utf-8"), f"package:prompts/{name}.txt"
        _check(name, text, source)
        out[name] = Template(name, text, source)
    return out
