"""Exact token counts through a per-word cache, for byte-level BPE tokenizers (SmolLM2, GPT-2 family).

Such a tokenizer first splits text with one fixed regex (words with their leading space, numbers,
punctuation runs, whitespace) and then runs BPE inside each piece, never across pieces. So a text's
token count is the sum of its pieces' counts, and a piece's count can be remembered: corpora reuse
the same words all the time, and a dictionary lookup is far cheaper than BPE. Measured on PubMed,
PMC and Swiss-Prot text: ~4-5× the `tokenizers` library once the cache is warm
(`benchmarks/bench_tokenize.py`); `tests/test_token_cache.py` checks equality with it on real data.

Used only where it is provably the same computation: no normalizer, a plain ByteLevel
pre-tokenizer with the GPT-2 regex. Texts holding an added token (`<|im_end|>` ...) or control
characters (where regex engines may disagree on `\\s`) go to the real tokenizer.
"""

from __future__ import annotations

import re
from typing import Sequence

# The GPT-2 pre-tokenization pattern, as `tokenizers`' ByteLevel(use_regex=True) applies it.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# Control characters (regex engines differ on which are whitespace) and characters beyond the BMP
# (where Unicode versions of the two engines' letter/number tables may differ): real tokenizer.
_UNSURE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\U00010000-\U0010ffff]").search
# Texts the word-by-word count does not take: whitespace other than " " and "\n" (Unicode
# spaces, tabs, CR: the `re` class is wide, which only sends more texts to the regex), double
# spaces, a space next to a line break, a line break at either end or a space at the end (one
# leading space is fine: the first word is then counted as " " + word).
_ODD_SPACE = re.compile(r"[^\S \n]").search


def _not_plain(text: str) -> bool:
    return (
        "  " in text or " \n" in text or "\n " in text or text[:1] == "\n" or text[-1:] in (" ", "\n")
        or _ODD_SPACE(text) is not None
    )


# A regex piece that is a run of ASCII digits, with the space the regex may put before it.
_DIGIT_RUN = re.compile(r" ?[0-9]+").fullmatch
_DIGITS = frozenset("0123456789")
# in the vocabulary's tokens joined by "\x00": a digit next to another character of its token
_DIGIT_JOINED = re.compile(r"[^\x00][0-9]|[0-9][^\x00]")


def _digit_in_longer_token(vocab) -> bool:
    """Whether a token longer than one character holds a digit: one regex search over the joined
    vocabulary (~1 ms for 49k tokens, where a loop over tokens and characters took ~50 ms)."""
    joined = "\x00".join(vocab)
    if joined.count("\x00") != max(len(vocab) - 1, 0):  # a token with a NUL: look token by token
        return any(len(t) > 1 and any(c in _DIGITS for c in t) for t in vocab)
    return _DIGIT_JOINED.search(joined) is not None
# ~60 MB at most (a word and its count weigh ~120 bytes); the caches are emptied when full (frequent
# words come back at once). Every entry brings new words (its accession, entry name), so they fill.
MAX_ENTRIES = 1 << 19


def supports_word_cache(tokenizer) -> bool:
    """True for a tokenizers.Tokenizer whose count is the sum over GPT-2 regex pieces. Read from
    the tokenizer's components (its JSON form, vocabulary included, takes ~0.07 s to write and parse)."""
    from tokenizers import models, pre_tokenizers

    pre, model = tokenizer.pre_tokenizer, tokenizer.model
    return (
        tokenizer.normalizer is None
        and isinstance(pre, pre_tokenizers.ByteLevel)
        and pre.use_regex is True
        and pre.add_prefix_space is False
        and isinstance(model, models.BPE)
        and model.dropout in (None, 0, 0.0)
    )


class WordCacheCounter:
    def __init__(self, tokenizer):
        import regex

        self.tokenizer = tokenizer
        self.split = regex.compile(GPT2_PATTERN).findall
        self.added = [t.content for t in tokenizer.get_added_tokens_decoder().values()]
        self._added_search = (
            re.compile("|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True))).search
            if self.added else None
        )
        self._added_all_lt = all("<" in t for t in self.added)  # then a text without "<" has none
        self.cache: dict[str, int] = {}  # regex piece -> count
        self.word_cache: dict[str, int] = {}  # word at the start of a line -> count
        self.spaced_cache: dict[str, int] = {}  # word after a space -> count of " " + word
        self.newline_counts: dict[int, int] = {}
        self.id_cache: dict[str, list[int]] = {}
        self._digits: bool | None = None  # see _digits_single

    def _needs_tokenizer(self, text: str) -> bool:
        if _UNSURE(text):
            return True
        if self._added_search is None or (self._added_all_lt and "<" not in text):
            return False
        return self._added_search(text) is not None

    def _encode(self, texts: list[str]) -> list[int]:
        out: list[int] = []
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)  # no offsets: faster
        for i in range(0, len(texts), 64):
            out += [len(e.ids) for e in encode(texts[i : i + 64], add_special_tokens=False)]
        return out

    def counts(self, texts: Sequence[str]) -> list[int]:
        if len(self.cache) + len(self.word_cache) + len(self.spaced_cache) > MAX_ENTRIES:
            self.cache.clear()
            self.word_cache.clear()
            self.spaced_cache.clear()
        totals = [0] * len(texts)
        direct: list[int] = []  # texts the real tokenizer counts whole
        pieces: list[int] = []  # texts counted piece by piece (GPT-2 regex)
        plain: list[int] = []  # texts counted word by word (see _plain_count)
        for i, text in enumerate(texts):
            if self._needs_tokenizer(text):
                direct.append(i)
            elif _not_plain(text):
                pieces.append(i)
            else:
                plain.append(i)
        if plain:
            self._plain_counts(texts, plain, totals)
        if pieces:
            self._piece_counts(texts, pieces, totals)
        if direct:
            for i, c in zip(direct, self._encode([texts[i] for i in direct])):
                totals[i] = c
        return totals

    def _piece_counts(self, texts: Sequence[str], todo: list[int], totals: list[int]) -> None:
        cache, get = self.cache, self.cache.get
        missing: dict[str, list[int]] = {}  # unseen piece -> texts it occurs in (once per occurrence)
        for i in todo:
            n = 0
            for piece in self.split(texts[i]):
                c = get(piece)
                if c is None:
                    missing.setdefault(piece, []).append(i)
                else:
                    n += c
            totals[i] = n
        if missing:
            for piece, c in zip(missing, self._encode(list(missing))):
                cache[piece] = c
                for i in missing[piece]:
                    totals[i] += c

    def _plain_counts(self, texts: Sequence[str], todo: list[int], totals: list[int]) -> None:
        """Texts whose whitespace is single spaces between words and newlines between lines (what
        the builders write). There every space starts a regex piece (" word", " (", " 12") and no
        piece spans a space or a line break, so the count is, per line, count(first word) + the sum
        of count(" " + word) over the others, plus each run of newlines counted in context. Words
        are looked up whole (str.split and dict lookups run in C): ~10x faster than the regex."""
        bare, spaced = self.word_cache, self.spaced_cache
        bare_get, spaced_get = bare.__getitem__, spaced.__getitem__
        retry = []
        for i in todo:
            try:
                totals[i] = self._plain_count(texts[i], bare_get, spaced_get)
            except KeyError:
                retry.append(i)
        if not retry:
            return
        want_bare: dict[str, None] = {}
        want_spaced: dict[str, None] = {}
        for i in retry:
            for line in texts[i].split("\n"):
                if line:
                    first, *rest = line.split(" ")
                    if first and first not in bare:  # "" when the text starts with a space
                        want_bare[first] = None
                    for w in rest:
                        if w not in spaced:
                            want_spaced[w] = None
        forms = list(want_bare) + [" " + w for w in want_spaced]
        counts = self._word_counts(forms)
        bare.update(zip(want_bare, counts))
        spaced.update(zip(want_spaced, counts[len(want_bare):]))
        for i in retry:
            totals[i] = self._plain_count(texts[i], bare_get, spaced_get)

    def _word_counts(self, words: list[str]) -> list[int]:
        """Counts of new words (a line's first word, or " " + a later one) as the sums of their
        regex pieces' counts: pieces come from the piece cache, a new one is encoded once, and a
        run of digits (" 123", "000123") costs a token per character where the vocabulary shows
        it (see `_digits_single`). Every entry brings new words, its accession and entry name,
        but their pieces (" P", "_", "HUMAN", digits) recur."""
        cache = self.cache
        split_words = [self.split(w) for w in words]
        todo: dict[str, None] = {}
        for pieces in split_words:
            for piece in pieces:
                if piece not in cache:
                    todo[piece] = None
        if todo:
            new = []
            for piece in todo:
                if _DIGIT_RUN(piece) and self._digits_single():
                    cache[piece] = len(piece)
                else:
                    new.append(piece)
            cache.update(zip(new, self._encode(new)))
        return [sum([cache[p] for p in pieces]) for pieces in split_words]

    def _digits_single(self) -> bool:
        """Whether every digit, and a space before digits, is a token of its own: true when each of
        "0".."9" and "Ġ" (a space, byte-level) is in the vocabulary and no longer token holds a
        digit, for then no BPE merge can join a digit to anything. Read once."""
        if self._digits is None:
            vocab = self.tokenizer.get_vocab(with_added_tokens=False)
            self._digits = all(c in vocab for c in "0123456789\u0120") and not _digit_in_longer_token(vocab)
        return self._digits

    def _plain_count(self, text: str, bare_get, spaced_get) -> int:
        n, run, started = 0, 0, False
        for line in text.split("\n"):
            if not line:  # an empty line: one more newline in the run
                run += 1
                continue
            if started:
                n += self._newlines(run + 1)
            started, run = True, 0
            words = line.split(" ")
            if words[0]:
                n += bare_get(words[0])
            if len(words) > 1:
                n += sum(map(spaced_get, words[1:]))
        return n

    def _newlines(self, k: int) -> int:
        """Tokens of a run of k newlines between two non-space characters (the regex cuts it in
        context, e.g. "\\n\\n" before a letter is "\\n" + "\\n", not the piece "\\n\\n")."""
        c = self.newline_counts.get(k)
        if c is None:
            whole, a, b = self._encode(["a" + "\n" * k + "b", "a", "b"])
            c = self.newline_counts[k] = whole - a - b
        return c

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, as the tokenizer gives them (add_special_tokens=False): the
        concatenation of each piece's ids, pieces encoded once and remembered."""
        if len(self.id_cache) > MAX_ENTRIES // 2:  # lists of ints weigh more than counts
            self.id_cache.clear()
        cache = self.id_cache
        out: list[list[int] | None] = [None] * len(texts)
        split_texts: list[tuple[int, list[str]]] = []
        direct: list[int] = []
        missing: dict[str, None] = {}
        for i, text in enumerate(texts):
            if self._needs_tokenizer(text):
                direct.append(i)
                continue
            pieces = self.split(text)
            for piece in pieces:
                if piece not in cache:
                    missing[piece] = None
            split_texts.append((i, pieces))
        if missing:
            encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
            todo = list(missing)
            for k in range(0, len(todo), 256):
                chunk = todo[k : k + 256]
                for piece, enc in zip(chunk, encode(chunk, add_special_tokens=False)):
                    cache[piece] = enc.ids
        for i, pieces in split_texts:
            ids: list[int] = []
            for piece in pieces:
                ids += cache[piece]
            out[i] = ids
        if direct:
            encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
            for i, enc in zip(direct, encode([texts[i] for i in direct], add_special_tokens=False)):
                out[i] = enc.ids
        return out  # type: ignore[return-value]
