"""Shuffle a question's options and rewrite everything that names an option by its number.

The published benchmark shuffled its options after the explanations were written and left the
explanations alone, so ~40 of them cite an option number that is no longer the answer. Here the
answer *and* every option number cited in the explanation follow the options to their new places.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import replace

from proteinlm.records import MCQ

# "option 3", "Option (3)", "options 2 and 4", "option number 5", "选项3": a cited option number.
# Only numbers right after the word "option(s)" (or 选项) are rewritten: "20 amino acids" stays.
_CITE = re.compile(
    r"(?P<word>\b[Oo]ptions?|\bOPTIONS?|选项)(?P<gap>\s*(?:number\s*|no\.\s*|#\s*)?[(\[]?\s*)(?P<nums>\d{1,2}"
    r"(?:\s*[)\]]?\s*(?:,|and|or|&|/|,\s*and|,\s*or)\s*[(\[]?\s*\d{1,2})*)"
)
_NUM = re.compile(r"\d{1,2}")


def seeded_order(n: int, seed: int | str, key: str) -> list[int]:
    """A permutation of range(n) that depends only on (seed, key): stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode("utf-8")).digest()
    order = list(range(n))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def renumber_citations(text: str, new_number: dict[int, int]) -> str:
    """Rewrite 1-based option numbers cited in `text` through `new_number` (old -> new).

    Numbers outside the mapping (no such option) are left as written.
    """

    def nums(m: re.Match) -> str:
        return _NUM.sub(lambda d: str(new_number.get(int(d.group()), int(d.group()))), m.group("nums"))

    return _CITE.sub(lambda m: m.group("word") + m.group("gap") + nums(m), text)


def cited_numbers(text: str) -> list[int]:
    """The 1-based option numbers that `text` cites ("option 3", "options 2 and 4")."""
    return [int(d) for m in _CITE.finditer(text) for d in _NUM.findall(m.group("nums"))]


def shuffle_mcq(mcq: MCQ, order: list[int]) -> MCQ:
    """The question with options in `order` (new position i holds old option order[i]).

    The answer and the option numbers cited in the explanation are rewritten to the new order.
    """
    if sorted(order) != list(range(len(mcq.options))):
        raise ValueError(f"{mcq.id}: {order} is not a permutation of {len(mcq.options)} options")
    new_number = {old + 1: new + 1 for new, old in enumerate(order)}
    return replace(
        mcq,
        options=tuple(mcq.options[i] for i in order),
        answer=order.index(mcq.answer),
        explanation=renumber_citations(mcq.explanation, new_number),
    )


def shuffle_seeded(mcq: MCQ, seed: int | str) -> MCQ:
    """`shuffle_mcq` with the permutation drawn from (seed, question id)."""
    return shuffle_mcq(mcq, seeded_order(len(mcq.options), seed, mcq.id))
