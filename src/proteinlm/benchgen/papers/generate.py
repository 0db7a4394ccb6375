"""Step 2: per chunk, k questions from the generator (optionally after a summary of the chunk).

Structured output: on an OpenAI-compatible chat server the reply is constrained by `SCHEMA`
(`response_format` json_schema); a server that does not take it, and local models, answer in free
text, from which the first JSON object is read (code fences and prose around it ignored). A reply
that still cannot be read gets one repair round: the generator is shown its reply and the parse
error and asked for the same content as valid JSON. A reply unreadable after that drops the
chunk ("malformed_json"); a chunk whose call failed after the backend's retries drops as
"llm_error" (not cached: a rerun asks again).

Local models (hf, llamacpp) cannot be constrained by a schema here; their reply is started for them
instead (`PREFILL`, the opening of the JSON object, put after the chat template as the assistant's
first words) and stopped at the object's end ("}]}"), which small models need to answer in JSON at
all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Callable, Iterator

from proteinlm.benchgen.papers.cache import Call, LLMCaller, Reply
from proteinlm.benchgen.papers.chunk import Chunk
from proteinlm.benchgen.papers.prompts import Template
from proteinlm.benchgen.papers.stages import StageCounts
from proteinlm.models.base import Prompt

MAX_OPTIONS = 10

SCHEMA = {
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "question": {"type": "string"},
                    "options": {"type": "array", "items": {"type": "string"}, "minItems": 2,
                                "maxItems": MAX_OPTIONS},
                    "answer": {"type": "integer", "minimum": 1, "maximum": MAX_OPTIONS},
                    "explanation": {"type": "string"},
                    "evidence": {"type": "string"},
                },
                "required": ["question", "options", "answer", "explanation", "evidence"],
            },
        }
    },
    "required": ["questions"],
}

PREFILL = '{"questions": [{"question": "'
END = "}]}"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


@dataclass(frozen=True)
class Generated:
    """One chunk's outcome: its raw question objects, or why it yielded none."""

    chunk: Chunk
    questions: list[dict]
    summary: str | None = None
    failure: str | None = None  # "malformed_json" | "llm_error" | "no_questions"
    detail: str = ""


def read_json(text: str) -> list[dict]:
    """The question objects of a reply: the first JSON object or list found in it.

    Raises ValueError (with the parser's message) when there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    error = "no JSON object in the reply"
    decoder = json.JSONDecoder()
    for blob in candidates:
        for start in (i for i, ch in enumerate(blob) if ch in "{["):
            try:
                obj, _ = decoder.raw_decode(blob, start)
            except json.JSONDecodeError as exc:
                error = f"invalid JSON: {exc.msg} at character {exc.pos - start}"
                break  # the first opening brace decides: later ones are inside it
            if isinstance(obj, dict) and isinstance(obj.get("questions"), list):
                obj = obj["questions"]
            elif isinstance(obj, dict) and "question" in obj:
                obj = [obj]
            if isinstance(obj, list) and all(isinstance(q, dict) for q in obj) and obj:
                return obj
            error = "JSON without a 'questions' list"
            break
    raise ValueError(error)


def _sections(chunk: Chunk) -> str:
    return "; ".join(chunk.sections) or "(none)"


class _Asker:
    """The generator's calls: JSON-schema constrained on a server, prefilled on a local model."""

    def __init__(self, generator: LLMCaller):
        self.generator = generator
        self.local = generator.backend.kind != "openai"
        self.params = replace(generator.params, stop=tuple(generator.params.stop) + (END,)) if self.local else None

    def call(self, stage: str, item: str, text: str, template: Template) -> Call:
        return Call(stage, item, Prompt(text, answer_prefix=PREFILL if self.local else ""), template.sha256)

    def ask(self, calls: list[Call], progress=None) -> list[Reply]:
        replies = self.generator.ask(calls, params=self.params, schema=True, progress=progress)
        if not self.local:
            return replies
        # the prefill and the stop string were ours, not the model's: the JSON gets them back
        return [replace(r, text=PREFILL + r.text + END) if r.text is not None else r for r in replies]


def generate_questions(
    chunks: list[Chunk], generator: LLMCaller, templates: dict[str, Template], *, per_chunk: int,
    n_options: int, summarise: bool, counts: StageCounts, progress: Callable[[int], None] | None = None,
) -> Iterator[Generated]:
    """Each chunk's raw questions (at most `per_chunk`), in chunk order."""
    summaries: list[str | None] = [None] * len(chunks)
    failures: dict[int, Reply] = {}
    if summarise:
        calls = [Call("summarise", c.id, Prompt(templates["summarise"].render(
            title=c.article.get("title", ""), sections=_sections(c), chunk=c.text)), templates["summarise"].sha256)
            for c in chunks]
        for i, reply in enumerate(generator.ask(calls)):
            if reply.text is None:
                failures[i] = reply
            else:
                summaries[i] = reply.text.strip()
    asked = [i for i in range(len(chunks)) if i not in failures]
    asker = _Asker(generator)
    calls = []
    for i in asked:
        c = chunks[i]
        block = f"Summary of the passage:\n{summaries[i]}\n" if summaries[i] else ""
        text = templates["question"].render(
            title=c.article.get("title", ""), sections=_sections(c), chunk=c.text, summary_block=block,
            k=per_chunk, n_options=n_options)
        calls.append(asker.call("generate", c.id, text, templates["question"]))
    replies = dict(zip(asked, asker.ask(calls, progress=progress)))

    parsed: dict[int, list[dict]] = {}
    broken: dict[int, str] = {}
    for i, reply in replies.items():
        if reply.text is None:
            failures[i] = reply
            continue
        try:
            parsed[i] = read_json(reply.text)
        except ValueError as exc:
            broken[i] = str(exc)
    if broken:  # one repair round, all broken replies at once
        order = sorted(broken)
        calls = [asker.call("repair", chunks[i].id, templates["repair"].render(reply=replies[i].text, error=broken[i]),
                            templates["repair"]) for i in order]
        for i, reply in zip(order, asker.ask(calls)):
            if reply.text is None:
                failures[i] = reply
                continue
            try:
                parsed[i] = read_json(reply.text)
                del broken[i]
            except ValueError as exc:
                broken[i] = str(exc)

    for i, chunk in enumerate(chunks):
        counts.take()
        if i in failures:
            counts.drop("llm_error")
            yield Generated(chunk, [], summaries[i], "llm_error", failures[i].error or "")
        elif i in broken:
            counts.drop("malformed_json")
            yield Generated(chunk, [], summaries[i], "malformed_json", broken[i])
        else:
            counts.keep()
            yield Generated(chunk, parsed[i][:per_chunk], summaries[i])
