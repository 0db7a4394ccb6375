"""Step 2b: each generated question checked on its own, before any model or index reads it.

Drop reasons, in the order they are tested:
  bad_fields        question/explanation/evidence not strings, options not a list of strings
  empty_question    no question text
  bad_options       fewer than 2 or more than 10 options, an empty option, or two the same
  bad_answer        the answer is not one option number (1..n; "option 3", "3" and 3 are read)
  long_explanation  explanation longer than 100 words
  no_quote          evidence quote missing or shorter than 20 characters (a short quote matches
                    anything)
  quote_not_in_chunk the quote does not occur in the chunk: rapidfuzz `partial_ratio` of the
                    normalised quote against the normalised chunk below QUOTE_THRESHOLD (90 of 100;
                    normalised = NFKC, lower case, quotes and dashes unified, whitespace collapsed).
                    90 lets a copied sentence through with a changed word or two and a dropped
                    citation bracket; a paraphrase or a sentence from another article scores ~50-70.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

from proteinlm.benchgen.papers.chunk import Chunk
from proteinlm.benchgen.papers.stages import Candidate, StageCounts
from proteinlm.records import MCQ

QUOTE_THRESHOLD = 90.0
MIN_QUOTE_CHARS = 20
MAX_EXPLANATION_WORDS = 100
MIN_OPTIONS, MAX_OPTIONS = 2, 10

_LABEL = re.compile(r"^\s*(?:option\s*)?\(?([A-Ja-j]|\d{1,2})[).:]\s+", re.I)
_ANSWER = re.compile(r"^\s*(?:option\s*)?(\d{1,2})\s*\.?\s*$", re.I)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2010": "-",
                         "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"})


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).lower().split())


def quote_match(quote: str, chunk_text: str) -> float:
    """0-100: how well `quote` matches its best-aligned stretch of the chunk."""
    q, c = normalise(quote).strip(" \"'"), normalise(chunk_text)
    if not q:
        return 0.0
    if q in c:
        return 100.0
    return float(fuzz.partial_ratio(q, c))


def _answer_index(value, n: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        k = value
    elif isinstance(value, str) and (m := _ANSWER.match(value)):
        k = int(m.group(1))
    else:
        return None
    return k - 1 if 1 <= k <= n else None


def check(raw: dict, chunk: Chunk, qid: str) -> tuple[Candidate | None, str | None]:
    """(candidate, None) or (None, drop reason)."""
    question, options = raw.get("question"), raw.get("options")
    explanation, quote = raw.get("explanation", ""), raw.get("evidence", "")
    if not isinstance(question, str) or not isinstance(options, list) or not isinstance(explanation, str) \
            or not isinstance(quote, str) or not all(isinstance(o, str) for o in options):
        return None, "bad_fields"
    if not question.strip():
        return None, "empty_question"
    # "A) text" / "option 2: text": labels the model added are not part of the option
    texts = [_LABEL.sub("", o, count=1).strip() if _LABEL.match(o) else o.strip() for o in options]
    if not MIN_OPTIONS <= len(texts) <= MAX_OPTIONS or not all(texts) or \
            len({normalise(t) for t in texts}) != len(texts):
        return None, "bad_options"
    answer = _answer_index(raw.get("answer"), len(texts))
    if answer is None:
        return None, "bad_answer"
    if len(explanation.split()) > MAX_EXPLANATION_WORDS:
        return None, "long_explanation"
    if len(quote.strip()) < MIN_QUOTE_CHARS:
        return None, "no_quote"
    match = quote_match(quote, chunk.text)
    if match < QUOTE_THRESHOLD:
        return None, "quote_not_in_chunk"
    mcq = MCQ(id=qid, question=" ".join(question.split()), options=tuple(" ".join(t.split()) for t in texts),
              answer=answer, explanation=" ".join(explanation.split()))
    return Candidate(mcq=mcq, chunk=chunk, quote=quote.strip(), quote_match=round(match / 100, 4)), None


def validate(generated, counts: StageCounts):
    """Candidates of every generated chunk that pass `check`; ids "<chunk id>:q<i>"."""
    for gen in generated:
        for i, raw in enumerate(gen.questions):
            counts.take()
            cand, reason = check(raw, gen.chunk, f"{gen.chunk.id}:q{i}")
            if cand is None:
                counts.drop(reason)
                continue
            counts.keep()
            yield cand
