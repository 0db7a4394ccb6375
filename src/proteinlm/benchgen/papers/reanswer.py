"""Step 6: the validator answers each question three ways, with the official ProteinLMBench prompt.

  with_passage  the evidence passage (context.txt) before the official prompt: the published check;
                the question is kept only when this answer is the generator's ("validator_wrong"
                when another option is chosen, "validator_unsure" for option 7 or no readable answer)
  closed_book   the official prompt alone (no passage)
  options_only  the official prompt with the question left out
The last two are stored, not filtered on (unless asked): a question the validator gets right
without reading, or without even the question, tests memory or option artefacts, not reading.
Answers are read with `proteinlm.bench.extract.extract_answer` (number style, 7 = unsure).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator

from proteinlm.bench.extract import extract_answer
from proteinlm.bench.prompts import OFFICIAL
from proteinlm.benchgen.papers.cache import Call, LLMCaller
from proteinlm.benchgen.papers.prompts import Template
from proteinlm.benchgen.papers.stages import Candidate, StageCounts
from proteinlm.models.base import GenerationParams, Prompt

MODES = ("with_passage", "closed_book", "options_only")


def answer_params(max_new_tokens: int = 48, seed: int = 1234) -> GenerationParams:
    """Greedy, stopping once the reply has said "The correct option is Option N"."""
    return GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0, seed=seed,
                            stop_regex=OFFICIAL.answer_regex)


def _calls(cand: Candidate, context: Template) -> list[Call]:
    official = OFFICIAL.fingerprint()
    mcq = cand.mcq
    plain = OFFICIAL.render(mcq)
    passage = cand.evidence.get("passage") or cand.chunk.text
    return [
        Call("reanswer/with_passage", mcq.id, Prompt(context.render(passage=passage, prompt=plain)),
             f"{context.sha256}+{official}"),
        Call("reanswer/closed_book", mcq.id, Prompt(plain), official),
        Call("reanswer/options_only", mcq.id, Prompt(OFFICIAL.render(replace(mcq, question=""))), official),
    ]


def reanswer(cands: list[Candidate], validator: LLMCaller, context: Template, counts: StageCounts, *,
             require_reading: bool = False, progress: Callable[[int], None] | None = None) -> Iterator[Candidate]:
    calls = [call for cand in cands for call in _calls(cand, context)]
    replies = validator.ask(calls, progress=progress)
    for n, cand in enumerate(cands):
        counts.take()
        mine = replies[3 * n: 3 * n + 3]
        if any(r.text is None for r in mine):
            counts.drop("llm_error")
            continue
        for mode, reply in zip(MODES, mine):
            n = len(cand.mcq.options)
            # "option 7" means unsure only where no option 7 exists (questions have up to 10 options)
            abstain = OFFICIAL.abstain_number if n < OFFICIAL.abstain_number else None
            got = extract_answer(reply.text, n, "number", abstain)
            # the choice is an index in the generator's option order; the writer maps it through
            # the shuffle, so provenance names options as bench.json numbers them
            cand.validator[mode] = {"choice": got.choice, "correct": got.choice == cand.mcq.answer,
                                    "abstained": got.abstained}
        verdict = cand.validator["with_passage"]
        if verdict["choice"] is None:
            counts.drop("validator_unsure")
        elif not verdict["correct"]:
            counts.drop("validator_wrong")
        elif require_reading and cand.difficulty != "needs_passage":
            counts.drop(cand.difficulty)
        else:
            counts.keep()
            yield cand
