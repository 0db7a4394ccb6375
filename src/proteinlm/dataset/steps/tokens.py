"""Token counts for manifests, with a named tokenizer (default: the embedded SmolLM2's).

Counting uses the `tokenizers` library directly on a `tokenizer.json`: importing transformers
(and with it torch) would add ~0.5 GB to every build worker and seconds to its start.
"""

from __future__ import annotations

import os
from itertools import chain, repeat
from pathlib import Path
from typing import Sequence

from proteinlm.errors import ProteinLMError


def _smollm2_tokenizer_json() -> Path:
    """tokenizer.json of the embedded model, converted from its GGUF once and cached."""
    from proteinlm.models.smollm2 import gguf_cache_dir, smollm2_gguf_path

    gguf = smollm2_gguf_path()
    cache = gguf_cache_dir(gguf)
    if cache is not None and (cache / "tokenizer.json").is_file():  # the bench's dequantised copy
        return cache / "tokenizer.json"
    # named like the model cache (size and mtime of the GGUF): a new release converts afresh
    target = (cache.parent / f"{cache.name}-tokenizer") if cache is not None else (
        Path.home() / ".cache" / "proteinlm" / f"{gguf.stem}-tokenizer"
    )
    if not (target / "tokenizer.json").is_file():  # not converted by an earlier build
        _convert_in_child(gguf, target)
    return target / "tokenizer.json"


def _convert_in_child(gguf: Path, target: Path) -> None:
    """Convert the GGUF vocabulary with transformers in a child process: transformers imports
    torch (~1 GB of RSS and ~5 s), which a build process would otherwise keep for its whole run."""
    import subprocess
    import sys

    code = "import sys; from proteinlm.dataset.steps.tokens import convert_gguf_tokenizer as c; c(sys.argv[1], sys.argv[2])"
    res = subprocess.run([sys.executable, "-c", code, str(gguf), str(target)], capture_output=True, text=True)
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise ProteinLMError(f"cannot convert the tokenizer of {gguf}: {tail}")


def convert_gguf_tokenizer(gguf: str | Path, target: str | Path) -> None:
    """Write the tokenizer.json of a GGUF model into `target` (atomically: a killed conversion
    leaves no file that a later build would take for finished)."""
    from transformers import AutoTokenizer

    gguf, target = Path(gguf), Path(target)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"tokenizer.json.tmp-{os.getpid()}"
    tok.backend_tokenizer.save(str(tmp))
    tmp.replace(target / "tokenizer.json")


def _upper_letters(s: str) -> bool:
    """Whether every character is A-Z (and there is one)."""
    return s.isascii() and s.isalpha() and s.isupper()


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # what a sequence body holds (the body pattern is [A-Z])
_VISIBLE_ASCII = frozenset(map(chr, range(33, 127)))


def _visible(ch: str) -> bool:
    return ch in _VISIBLE_ASCII or (ch > "\x7f" and ch.isprintable() and not ch.isspace())


class TokenCounter:
    """`spec`: "smollm2" (the embedded model's tokenizer), a `tokenizer.json` file or a directory
    holding one, or "none" to skip counting (the manifest then says so)."""

    def __init__(self, spec: str = "smollm2", seq_tags: tuple[str, str] = ("<seq>", "</seq>"), seq_sep: str = " "):
        import re

        self.spec = spec
        self.tokenizer = None
        self._open, self._close, self._sep = seq_tags[0], seq_tags[1], seq_sep
        # the capture group is the body between the tags: " M K T" (separator-led residues)
        body = "((?:" + re.escape(seq_sep) + "[A-Z])+)"
        self._seq_re = (
            re.compile("(?<=" + re.escape(seq_tags[0]) + ")" + body + "(?=" + re.escape(seq_sep + seq_tags[1]) + ")")
            if seq_sep
            else None
        )
        # the same body found without the look-behind: str.find locates the opening tags (a regex
        # that starts with a look-behind is tried at every position of the text)
        self._seq_body = re.compile(body + "(?=" + re.escape(seq_sep + seq_tags[1]) + ")").match if seq_sep else None
        self._verified: dict[tuple[str, str], bool] = {}
        self._all_letters_single: bool | None = None
        self._tags_counts: tuple[int, ...] | None = None  # see seq_text_count
        self._words = None  # per-word cached counter where the tokenizer allows it (token_cache.py)
        if spec == "none":
            return
        from tokenizers import Tokenizer

        try:
            if spec == "smollm2":
                path = _smollm2_tokenizer_json()
            else:
                path = Path(spec)
                if path.is_dir():
                    path = path / "tokenizer.json"
            self.tokenizer = Tokenizer.from_file(str(path))
        except ProteinLMError:
            raise
        except Exception as exc:  # noqa: BLE001 - missing file, bad JSON, conversion failure
            raise ProteinLMError(f"cannot load tokenizer {spec!r}: {exc}") from exc

    @property
    def name(self) -> str | None:
        if self.tokenizer is None:
            return None
        return "SmolLM2-135M-Instruct" if self.spec == "smollm2" else self.spec

    def _encode_counts(self, texts: Sequence[str]) -> list[int]:
        if self._words is None:
            from proteinlm.dataset.steps.token_cache import WordCacheCounter, supports_word_cache

            self._words = WordCacheCounter(self.tokenizer) if supports_word_cache(self.tokenizer) else False
        if self._words:
            return self._words.counts(list(texts))
        out: list[int] = []
        # Small batches: an Encoding keeps ids, offsets and token strings, ~100 bytes a token.
        for i in range(0, len(texts), 64):
            out += [len(e.ids) for e in self.tokenizer.encode_batch(list(texts[i : i + 64]), add_special_tokens=False)]
        return out

    def _residues_are_single_tokens(self, body: str) -> bool:
        """Whether `body` (" M K T ...") tokenises to one token per residue, alone and in context.
        Checked once per residue alphabet and separator; then a sequence costs len(seq) tokens
        without being tokenised, which is most of the work (every SFT row repeats the sequence)."""
        if self._all_letters_single is None:  # one check for A-Z covers every body when counts add up
            self._all_letters_single = self._words_ready() and self._check_letters(_LETTERS)
        if self._all_letters_single:
            return True
        return self._check_letters("".join(sorted(set(body.replace(self._sep, "")))) if self._sep else "")

    def _words_ready(self) -> bool:
        """Whether counts are sums over pieces (the per-word counter is in use)."""
        if self._words is None:
            self._encode_counts([""])
        return bool(self._words)

    def _check_letters(self, letters: str) -> bool:
        key = (letters, self._sep)
        if key not in self._verified:
            probe_body = "".join(self._sep + c for c in letters * 2)
            # laid out as the builders write it: "x <seq> A B ... </seq> y"
            probe = f"x {self._open}{probe_body}{self._sep}{self._close} y"
            ok = bool(self._sep) and self._encode_counts([probe_body])[0] == 2 * len(letters)
            ok = ok and self._encode_counts([probe])[0] == sum(
                self._encode_counts([f"x {self._open}", probe_body, f"{self._sep}{self._close} y"])
            )
            self._verified[key] = ok
        return self._verified[key]

    def seq_text_count(self, seq: str) -> int | None:
        """`count([seq_to_text(seq)])[0]` with this counter's tags and separator, without making or
        reading the text: the tags' counts plus a token per residue, where `count` provably gives
        that (residues A-Z, single tokens in context; tags that `_split_seq` cuts off alone).
        None otherwise: the text is then counted. A build counts every entry's sequence this way
        (the regex that finds a body in a text reads ~100 residues per microsecond)."""
        if self._tags_counts is None:
            open_, close, sep = self._open, self._close, self._sep
            ok = (
                self.tokenizer is not None and bool(open_ and close and sep)
                and _visible(open_[0]) and _visible(close[-1]) and open_ not in sep + close
                and not (sep + close)[: 1 + len(sep)].endswith(tuple(_LETTERS))  # body stops at the tag
                and self._residues_are_single_tokens(sep + "A")
            )
            self._tags_counts = tuple(self._encode_counts([open_, sep + close])) if ok else ()
        if not self._tags_counts or not _upper_letters(seq):
            return None
        return self._tags_counts[0] + len(seq) + self._tags_counts[1]

    def _split_seq(self, text: str) -> list[str]:
        """`self._seq_re.split(text)`: outside, body, outside, ..., outside."""
        if self._seq_re is None:
            return [text]
        if not self._open:
            return self._seq_re.split(text)
        pieces, pos, at, n = [], 0, 0, len(self._open)
        while (at := text.find(self._open, at)) >= 0:
            at += n
            m = self._seq_body(text, at)
            if m is not None:
                pieces += [text[pos:at], m.group(1)]
                pos = at = m.end()
        pieces.append(text[pos:])
        return pieces

    def count_joined(
        self, rows: Sequence[Sequence[str]], sep: str = "\n", memo: dict[str, int] | None = None
    ) -> list[int] | None:
        """`count([sep.join(parts) for parts in rows])`, counting each distinct part once: an SFT
        row's input is its entry's sequence (also a paragraph of its document), its instruction
        one of a few paraphrases. `memo` (part -> count) may be shared between calls. Parts add up
        exactly when counts are sums over GPT-2 pieces and every join is a run of newlines between
        two visible characters, which the regex cuts the same way whatever surrounds it (see
        `_newlines`); other rows are counted whole."""
        if self.tokenizer is None:
            return None
        plain_sep = bool(sep) and not sep.strip("\n")
        if not (plain_sep and self._words_ready() and not any("\n" in t for t in self._words.added)):
            return self.count([sep.join(parts) for parts in rows])
        import numpy as np

        if not rows:
            return []
        memo = {} if memo is None else memo
        # every part of every row in one list, each distinct new one counted once (the loops run in
        # C: comprehensions, dict.fromkeys, map; the per-row sums in numpy)
        flat = [p for parts in rows for p in parts]
        new = [p for p in dict.fromkeys(flat) if p not in memo]
        good = [p for p in new if p and _visible(p[0]) and _visible(p[-1])]  # memo holds only these
        memo.update(zip(good, self.count(good)))
        lens = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        whole: list[int] = []  # rows counted whole: a part with an invisible end, or no part
        if len(good) < len(new) or not lens.all():
            bad = set(new).difference(good)
            whole = [i for i, parts in enumerate(rows) if not parts or not bad.isdisjoint(parts)]
            values = map(memo.get, flat, repeat(0))  # 0 for the bad parts: their rows are redone below
        else:
            values = map(memo.__getitem__, flat)
        counts = np.fromiter(chain(values, (0,)), dtype=np.int64, count=len(flat) + 1)  # a 0 after the last
        starts = np.zeros(len(rows), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        # reduceat sums counts[starts[i]:starts[i + 1]] (the last row up to the final 0); an empty
        # row's entry is wrong, but such rows are counted whole
        totals = (np.add.reduceat(counts, starts) + self._words._newlines(len(sep)) * (lens - 1)).tolist()
        if whole:
            for i, n in zip(whole, self.count([sep.join(rows[i]) for i in whole])):
                totals[i] = n
        return totals

    def count(self, texts: Sequence[str]) -> list[int] | None:
        """Exact token counts. Text between the sequence tags is counted as one token per residue
        when the tokenizer provably does that (see above); everything else is tokenised."""
        if self.tokenizer is None:
            return None
        if not texts:
            return []
        outside: list[str] = []
        owners: list[int] = []
        totals = [0] * len(texts)
        for i, text in enumerate(texts):
            pieces = self._split_seq(text)
            for k, piece in enumerate(pieces):
                if k % 2 and self._residues_are_single_tokens(piece):
                    totals[i] += len(piece) // (1 + len(self._sep))
                else:
                    outside.append(piece)
                    owners.append(i)
        for i, n in zip(owners, self._encode_counts(outside)):
            totals[i] += n
        return totals
