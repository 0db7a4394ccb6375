"""Read the chosen option out of a model's free-text reply to a ProteinLMBench question.

The published ProteinLMBench script took the first digit anywhere in the reply, so
"There are 20 amino acids ... The correct option is 3" scored as option 2.  Here a reply
is read in tiers, the first tier that yields something wins:

1. verdicts ("the correct option is 3", "Answer: C", "option 3 is correct", "答案是C",
   "\\boxed{3}"): the LAST one counts, because models reconsider mid-reply;
2. a bare answer token that is the whole reply or opens it ("3", "(C)", "3.", "Option 3:");
3. mentions ("option 3", "选项3", "(C)" in letter style) not negated ("option 2 is wrong"),
   taken only when they all name the same option;
4. an abstention phrase ("I don't know", "无法确定") when nothing above chose an option.

Option number `abstain_number` (the official prompt's "option 7") is an abstention, not an
answer, wherever it is read, but only in a question with fewer options than that number: with
7 or more options "7" names a real option.  Tokens are validated against `n_options`: a letter
beyond the options is ignored (it is more likely a word than an answer); a number beyond them
gives rule "out_of_range" with choice None.

Text the reply repeats from the prompt (`echoes`: the instructions' sentences, the question) is
blanked out first, so the instructions' "output option 7" or a number of the question is never
read as the model's choice.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Extraction:
    choice: int | None  # 0-based option index; None when nothing parsed or the model abstained
    abstained: bool  # chose the abstention option or said it does not know
    rule: str  # name of the rule that fired


# An answer token: option number or capital letter (case is checked in _ok, since the
# patterns run with re.I so that "ANSWER:"/"answer:" both match).
_TOK = r"[(\[]?\s*(?P<tok>\d+|[A-Z])\s*[)\]]?"
_I = re.I

# Words that may follow a token read without an "option" word ("The answer is C because").
# Any other lowercase word means the token was a quantity or an article: "answer is 20 amino
# acids", "The answer: A protein that ...".
_CONNECTORS = frozenset(
    "because since as at is was would seems appears fits best matches and or which that "
    "with for here given due".split()
)
_NEXT_WORD = re.compile(r"\s+([a-z][a-z'-]*)")
_GLUED = re.compile(r"[A-Za-z0-9]|[.,]\d")  # "3rd", "3D", "146", "7.4", "3.1.1.34", "3,000"
_ABBREV = re.compile(r"\.\s?[a-z]")  # "E. coli", "S. cerevisiae": a genus, not option E

# Reasoning models wrap their thinking in <think> ... </think>; the answer is after it.
_THINK = re.compile(r"</?think>", _I)
_THINK_END = re.compile(r"</think>", _I)
# Markdown/LaTeX decoration that splits "**Answer:** C" or "$C$" from its token.
_DECOR = re.compile(r"[*`$]|^#+[ \t]*", re.M)

# Tier 1: verdicts, as (regex, rule, strong).  strong=True means an "option" word (or a
# structure just as explicit) precedes the token, so a following word cannot make it a quantity.
_VERDICTS = [
    # "The correct option is Option 3", "the correct option number is 3", "Answer: C",
    # "The answer is (C)", "final answer would be option 2", "correct choice = B".
    (re.compile(r"(?<![a-z])(?:answer|option|choice|response)(?:\s+number)?\s*"
                r"(?:is|would\s+be|should\s+be|will\s+be|:|=)\s*:?\s*"
                r"(?:(?:therefore|thus|clearly|likely|probably|definitely)\s+)?"
                r"(?:(?P<ow>option|choice|number)\s*)?" + _TOK, _I), "verdict", False),
    # Enumerating replies: "option 3 is correct", "Option 2 (Myoglobin) is the best answer".
    # "is incorrect"/"is not correct" do not match: the adjective must follow directly.
    (re.compile(r"(?<![a-z])(?:option|choice)\s*" + _TOK + r"\s*(?:\([^)]{0,80}\)\s*)?"
                r"(?:is|seems|appears|would\s+be)\s+(?:(?:most\s+)?(?:likely|probably|clearly|"
                r"definitely)\s+)?(?:the\s+)?(?:correct|right|true|best|most\s+(?:accurate|"
                r"appropriate|likely))", _I), "verdict", True),
    # The same with a bare letter: "C is correct", "(B) is the right answer".
    (re.compile(r"(?<![A-Za-z0-9])" + _TOK + r"\s+is\s+(?:the\s+)?(?:correct|right|best)\b"),
     "verdict", False),
    # Conclusions and choices: "Therefore, option 3.", "I'll go with option C", "I choose 2".
    (re.compile(r"(?<![a-z])(?:(?:so|therefore|thus|hence|finally|in\s+conclusion)\s*,?\s*"
                r"(?:option|choice)|i\s*(?:'ll|\s+will|'d|\s+would)?\s*(?:choose|pick|select|"
                r"go\s+with)\s+(?:option\s*)?)\s*" + _TOK, _I), "verdict", True),
    # LaTeX answer boxes from maths-tuned models: "\boxed{3}", "\boxed{\text{C}}".
    (re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*(?:option\s*)?" + _TOK, _I), "verdict", True),
    # Chinese: "答案：C", "答案是选项3", "正确答案是 C", "正确选项为3", "最终答案应为B".
    (re.compile(r"(?:正确答案|最终答案|答案|正确选项)\s*(?:应该|应当|应)?\s*(?:是|为|:|=)?\s*"
                r"(?:选项|选)?\s*" + _TOK, _I), "chinese", True),
    # Chinese "选3" / "选择C" ("pick 3"); "选项3" does not match (项 is not a token).
    (re.compile(r"选(?:择)?\s*(?:是|:)?\s*" + _TOK, _I), "chinese", True),
    # Chinese "选项3是正确的" ("option 3 is correct").
    (re.compile(r"选项\s*" + _TOK + r"\s*(?:是|为)?\s*(?:正确|对)", _I), "chinese", True),
]

# Tier 2: the whole reply is one token ("3", "(C)", "C.", "Option 3"), or the reply opens with
# one followed by punctuation ("3. Hemoglobin ...", "(C) Because ...", "Option 3: ...").
_WHOLE = re.compile(r"^[(\[]?\s*(?P<ow>option\s*)?(?P<tok>\d+|[A-Z])\s*[)\].:]?$", _I)
_START = re.compile(r"^(?P<ow>option\s*)?" + _TOK + r"(?:\s*[.:)]|[ \t]*(?=\n))(?=\s|$)", _I)
# A reply that opens "1. ...\n2. ..." is a numbered list of reasoning steps, not an answer.
_LIST_ITEM = re.compile(r"^\s*[(\[]?(?:option\s*)?(\d+|[A-Z])\s*[.)\]:]", re.M | _I)

# Tier 3: mentions.
_MENTIONS = [
    (re.compile(r"(?<![a-z])(?:option|choice)(?!s)\s*(?:number\s*)?#?" + _TOK, _I),
     "option_word", True),
    (re.compile(r"选项\s*" + _TOK, _I), "chinese", True),
]
# "(C)" mid-reply is an answer only when the prompt lettered the options.
_PAREN_LETTER = re.compile(r"\((?P<tok>[A-Z])\)")
# A mention followed (in the same clause) or preceded by a negation is a rejected option.
_NEG_AFTER = re.compile(r"[^.;,。\n]{0,60}?(?:\b(?:not|incorrect|wrong|false|unlikely|eliminat\w*|"
                        r"ruled?\s+out|excluded?)\b|n't|错误|不对|不正确|不是|排除)", _I)
_NEG_BEFORE = re.compile(r"(?:\bnot|\bnor|\brule\s+out|\beliminate|\bexclude|排除)\s*$", _I)

# Tier 4: "I don't know" and the like, only consulted when no option was chosen.
_ABSTAIN = re.compile(r"\bi\s*(?:do\s*n[o']t|'m\s+not|\s+am\s+not)\s+(?:know|sure|certain)\b|"
                      r"\bi\s+am\s+unsure\b|\bcannot\s+(?:be\s+)?determined?\b|"
                      r"\bunable\s+to\s+determine\b|无法确定|不确定|不知道|无法判断", _I)


def _normalize(text: str) -> str:
    # NFKC folds full-width forms used in Chinese replies: "３" -> "3", "Ｃ" -> "C", "：" -> ":".
    t = unicodedata.normalize("NFKC", text or "").replace("\u2019", "'")
    parts = _THINK_END.split(t)
    if len(parts) > 1:  # nothing after </think> (cut off): fall back to the reasoning itself
        t = parts[-1] if parts[-1].strip() else " ".join(parts[:-1])
    return _DECOR.sub("", _THINK.sub(" ", t)).strip()


def _ok(s: str, m: re.Match, strong: bool) -> bool:
    """Is the token in match `m` an answer, judging by its own case and by what follows it?"""
    tok, rest = m.group("tok"), s[m.end("tok"):]
    if tok.isalpha() and not tok.isupper():  # "answer is a ...": an article, not option A
        return False
    if _GLUED.match(rest) or (tok.isalpha() and _ABBREV.match(rest)):
        return False
    if strong and tok.isdigit():
        return True
    w = _NEXT_WORD.match(rest)
    return not (w and w.group(1) not in _CONNECTORS)


def _value(tok: str, n: int, abstain: int | None) -> Extraction | None:
    """Map a token to an Extraction with a provisional rule; None for a letter beyond the options."""
    if tok.isdigit():
        k = int(tok)
        if abstain is not None and k == abstain and n < abstain:  # the prompt defines it
            return Extraction(None, True, "abstain")
        if 1 <= k <= n:
            return Extraction(k - 1, False, "")
        return Extraction(None, False, "out_of_range")
    k = ord(tok.upper()) - ord("A")
    return Extraction(k, False, "") if k < n else None


def _finish(v: Extraction, rule: str) -> Extraction:
    return v if v.rule else Extraction(v.choice, v.abstained, rule)


def _blank_echoes(s: str, echoes: Sequence[str]) -> str:
    for echo in echoes:
        e = _normalize(echo)
        if e:
            s = s.replace(e, "\n")
    return s.strip()


def extract_answer(text: str, n_options: int, style: str = "number",
                   abstain_number: int | None = 7, echoes: Sequence[str] = ()) -> Extraction:
    """Return the option chosen in `text` (see the module docstring for the rules)."""
    if style not in ("number", "letter"):
        raise ValueError(f"style must be 'number' or 'letter', not {style!r}")
    s = _blank_echoes(_normalize(text), echoes)

    # Tier 1: the last valid verdict wins.
    found = []
    for rx, rule, strong in _VERDICTS:
        for m in rx.finditer(s):
            v = _value(m.group("tok"), n_options, abstain_number) if _ok(s, m, strong) else None
            if v is not None:
                found.append((m.end("tok"), _finish(v, rule)))
    if found:
        return max(found, key=lambda p: p[0])[1]

    # Tier 2: a bare token as the whole reply, or opening it.
    m = _WHOLE.match(s)
    if m and (m.group("tok").isupper() or m.group("tok").isdigit()):
        v = _value(m.group("tok"), n_options, abstain_number)
        if v is not None:
            return _finish(v, "option_word" if m.group("ow") else
                           "bare_number" if m.group("tok").isdigit() else "letter")
    m = _START.match(s)
    if m and _ok(s, m, True) and _start_allowed(m, style) and not _is_list(s, m):
        v = _value(m.group("tok"), n_options, abstain_number)
        if v is not None:
            return _finish(v, "option_word" if m.group("ow") else
                           "bare_number" if m.group("tok").isdigit() else "letter")

    # Tier 3: non-negated mentions, accepted when they agree.
    mentions = _MENTIONS + ([(_PAREN_LETTER, "letter", True)] if style == "letter" else [])
    seen = []
    for rx, rule, strong in mentions:
        for m in rx.finditer(s):
            if not _ok(s, m, strong) or _NEG_AFTER.match(s, m.end()) \
                    or _NEG_BEFORE.search(s[max(0, m.start() - 20):m.start()]):
                continue
            v = _value(m.group("tok"), n_options, abstain_number)
            if v is not None:
                seen.append((m.start(), _finish(v, rule)))
    seen.sort(key=lambda p: p[0])
    if seen and len({(v.choice, v.abstained, v.rule == "out_of_range") for _, v in seen}) == 1:
        return seen[-1][1]

    # Tier 4: no option chosen; did the model say it does not know?
    if _ABSTAIN.search(s):
        return Extraction(None, True, "abstain")
    return Extraction(None, False, "ambiguous" if seen else "none")


def _start_allowed(m: re.Match, style: str) -> bool:
    """Opening tokens of the other style are read only in their unmistakable forms."""
    tok, form = m.group("tok"), m.group(0)
    if m.group("ow"):
        return True
    if style == "number" and tok.isalpha():  # "(C) ..." / "C) ..." but not "C. ..." / "A: ..."
        return ")" in form or "]" in form
    if style == "letter" and tok.isdigit():  # "3. ..." in a lettered prompt may be a list
        return False
    return True


def _is_list(s: str, m: re.Match) -> bool:
    """True when the opening token is item 1 of a numbered/lettered list ("1. ...\\n2. ...")."""
    tok = m.group("tok")
    nxt = str(int(tok) + 1) if tok.isdigit() else chr(ord(tok.upper()) + 1)
    return any(x.group(1).upper() == nxt for x in _LIST_ITEM.finditer(s, m.end()))
