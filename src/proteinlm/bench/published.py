"""The published ProteinLMBench evaluator's decoding and answer rule, to reproduce its scores.

The published script samples a reply (temperature 0.1, 20 new tokens), decodes the whole sequence
(prompt and reply) with the tokenizer, removes the prompt from that text by string replacement and
takes the first integer left as the chosen option. Where the decoded text does not reproduce the
prompt exactly (the tokenizer normalises spaces or drops characters), the replacement removes
nothing and the first integer is read from the instructions: the "7" of "output option 7". Such a
score measures the parser, not the model; `proteinlm bench --extract published` reproduces it so
that it can be set beside the faithful extraction of `proteinlm.bench.extract`.
"""

from __future__ import annotations

import re

from proteinlm.bench.extract import Extraction
from proteinlm.models.base import GenerationParams

TEMPERATURE = 0.1
MAX_NEW_TOKENS = 20

_FIRST_INTEGER = re.compile(r"\d+")


def published_generation(seed: int) -> GenerationParams:
    """The published decoding: sampled at T = 0.1, 20 new tokens, no early stop; the backend also
    returns the prompt and reply decoded together, which the published rule reads."""
    return GenerationParams(
        max_new_tokens=MAX_NEW_TOKENS, temperature=TEMPERATURE, top_p=1.0, seed=seed, decode_prompt=True
    )


def published_extract(decoded: str, prompt_text: str, n_options: int, abstain_number: int | None) -> Extraction:
    """The first integer in `decoded` once `prompt_text` is replaced by nothing.

    Rules: "first_integer" (the prompt was found and removed), "first_integer_unstripped" (it was
    not: the integer may come from the prompt itself), "out_of_range", "abstain", "none"."""
    m = _FIRST_INTEGER.search(decoded.replace(prompt_text, ""))
    if m is None:
        return Extraction(None, False, "none")
    k = int(m.group())
    if abstain_number is not None and k == abstain_number and n_options < abstain_number:
        return Extraction(None, True, "abstain")
    if not 1 <= k <= n_options:
        return Extraction(None, False, "out_of_range")
    rule = "first_integer" if prompt_text in decoded else "first_integer_unstripped"
    return Extraction(k - 1, False, rule)
