"""Embedders (the real offline all-MiniLM-L6-v2, a model directory, an OpenAI-compatible endpoint on a
local HTTP server) and the hybrid index (embedded default and Qdrant local mode) on real PMC text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import SHARED_DATA
from fake_openai_server import FakeOpenAIServer, embedding

from proteinlm.benchgen.papers.embed import MINILM, cosine, load_embedder, minilm_dir
from proteinlm.benchgen.papers.hybrid import bm25_tokens
from proteinlm.benchgen.papers.index import Passage, fuse_relative, open_index
from proteinlm.errors import BackendError, ProteinLMError
from proteinlm.sources import pmc

PHAGE = SHARED_DATA / "pmc" / "1471-2180-11-174.nxml"  # lysis time in bacteriophage lambda
MMPPOX = SHARED_DATA / "pmc" / "pone.0046493.nxml"  # a lipase inhibitor of M. tuberculosis
ORAL = SHARED_DATA / "pmc" / "1472-6831-8-11.nxml"  # Dutch Oral Health Impact Profile
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@pytest.fixture(scope="module")
def minilm():
    return load_embedder()


class Memo:
    """The real model, each distinct text embedded once per module (the index tests add the same
    passages again and again); `asked` counts the texts the index asked for."""

    def __init__(self, embedder):
        self.name, self.dim, self._embedder = embedder.name, embedder.dim, embedder
        self._memo: dict[str, np.ndarray] = {}
        self.asked = 0

    def embed(self, texts):
        self.asked += len(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        for t, v in zip(todo, self._embedder.embed(todo)):
            self._memo[t] = v
        return np.array([self._memo[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


@pytest.fixture(scope="module")
def memo(minilm):
    return Memo(minilm)


def paragraphs(path, n: int) -> list[Passage]:
    """The first n paragraphs of >= 200 characters of a real article, as passages (<= 1,000 chars)."""
    article = next(pmc.parse(path))
    out = []
    for sec in article.sections:
        for para in sec.text.split("\n\n"):
            if len(para) >= 200 and len(out) < n:
                out.append(Passage(f"{article.pmcid}:p{len(out)}", article.pmcid, para[:1000], {"section": sec.title}))
    return out


@pytest.fixture(scope="module")
def corpus() -> list[Passage]:
    return paragraphs(PHAGE, 14) + paragraphs(MMPPOX, 14)


def middle_sentence(text: str) -> str:
    sentences = [s for s in SENTENCE.split(text) if len(s) >= 40]
    return sentences[len(sentences) // 2]


# ---------------------------------------------------------------------------------- embedders
def test_minilm_is_offline_unit_rows_and_ranks_related_sentences_higher(minilm):
    assert minilm.name == MINILM and minilm.dim == 384
    vecs = minilm.embed([
        "The enzyme catalyses the hydrolysis of ATP to ADP and phosphate.",
        "ATP is split into ADP and inorganic phosphate by this enzyme.",
        "The football match was postponed because of heavy rain.",
    ])
    assert vecs.dtype == np.float32 and vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    related, unrelated = cosine(vecs[[0]], vecs[[1]])[0], cosine(vecs[[0]], vecs[[2]])[0]
    assert related > 0.6 and unrelated < 0.2, (related, unrelated)
    assert minilm.embed([]).shape == (0, 384)


def test_embedder_from_a_sentence_transformers_dir_and_a_plain_transformers_dir(minilm, tmp_path):
    src = minilm_dir()
    st_dir, plain_dir = tmp_path / "st", tmp_path / "plain"
    for target in (st_dir, plain_dir):
        target.mkdir()
    for f in src.rglob("*"):
        if f.is_file():
            (st_dir / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (st_dir / f.relative_to(src)).symlink_to(f)
    # a plain encoder directory: weights, config and tokenizer, no sentence-transformers files
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "special_tokens_map.json"):
        (plain_dir / name).symlink_to(src / name)
    texts = ["Lysis timing of phage lambda is set by the holin.", "Sheep and goats carried antibodies."]
    want = minilm.embed(texts)
    st = load_embedder(str(st_dir), batch_size=1)
    assert st.name == "st" and np.allclose(st.embed(texts), want, atol=1e-5)
    # all-MiniLM-L6-v2 is mean pooling + normalisation: the plain directory gives the same vectors
    plain = load_embedder(str(plain_dir))
    assert plain.dim == 384 and np.allclose(plain.embed(texts), want, atol=1e-5)
    with pytest.raises(BackendError, match="not a model directory"):
        load_embedder(str(tmp_path))
    with pytest.raises(BackendError, match="not 'minilm'"):
        load_embedder(str(tmp_path / "missing"))


def test_openai_compatible_embeddings_endpoint(monkeypatch):
    server = FakeOpenAIServer().start()
    try:
        server.require_key = "sk-test-embed-123"
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-embed-123")
        emb = load_embedder(f"{server.base_url}#fake-embed", batch_size=2)
        texts = ["alpha beta", "beta gamma", "delta", "alpha beta gamma", "epsilon"]
        got = emb.embed(texts)
        want = np.array([embedding(t, 16) for t in texts], dtype=np.float32)
        want /= np.linalg.norm(want, axis=1, keepdims=True)
        assert got.shape == (5, 16) and got.dtype == np.float32 and np.allclose(got, want, atol=1e-6)
        assert emb.dim == 16 and emb.name == "fake-embed"
        posts = [r for r in server.requests if r["path"] == "/v1/embeddings"]
        assert [len(r["body"]["input"]) for r in posts] == [2, 2, 1]  # batched
        assert {r["headers"]["authorization"] for r in posts} == {"Bearer sk-test-embed-123"}
        assert {r["body"]["model"] for r in posts} == {"fake-embed"}

        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-456")
        with pytest.raises(BackendError, match="HTTP 401.*OPENAI_API_KEY") as err:
            load_embedder(f"{server.base_url}#fake-embed").embed(["x"])
        assert "sk-wrong-key-456" not in str(err.value)  # the server echoed it; the message scrubs it
    finally:
        server.stop()
    with pytest.raises(BackendError, match="names no model"):
        load_embedder("http://127.0.0.1:9/v1")


# ---------------------------------------------------------------------------------- the index
def test_fusion_is_weaviates_relative_score_fusion():
    # Weaviate's example: [1, 8, 6, 11] -> [0, 0.7, 0.5, 1]; equal scores give the full weight
    fused = dict(fuse_relative({0: 1.0, 1: 8.0, 2: 6.0, 3: 11.0}, {}, alpha=1.0, k=4))
    assert fused == pytest.approx({0: 0.0, 1: 0.7, 2: 0.5, 3: 1.0})
    fused = fuse_relative({0: 0.9, 1: 0.1}, {1: 5.0, 2: 5.0}, alpha=0.8, k=3)
    assert dict(fused) == pytest.approx({0: 0.8, 1: 0.2, 2: 0.2})
    assert [key for key, _ in fused] == [0, 1, 2]  # ties broken by the vector score
    with pytest.raises(ProteinLMError, match="alpha"):
        fuse_relative({}, {}, alpha=1.5, k=1)


@pytest.fixture(params=["dir", "qdrant+local"])
def index_spec(request, tmp_path):
    if request.param == "qdrant+local":
        pytest.importorskip("qdrant_client")
        return f"qdrant+local://{tmp_path / 'qdrant'}/passages"
    return str(tmp_path / "index")


def test_index_add_search_restrict_reopen_idempotent(index_spec, memo, corpus):
    index = open_index(index_spec, memo)
    before = memo.asked
    index.add(corpus[:10])
    index.add(corpus + corpus[:2])  # the first 10 are skipped, the rest added once
    index.add(corpus[::3])  # nothing new
    assert len(index) == len(corpus) and memo.asked - before == len(corpus)  # each passage embedded once

    target = corpus[17]  # an MmPPOX paragraph
    query = middle_sentence(target.text)
    hits = index.search(query, article_id=target.article_id, k=5)
    assert hits[0][0] == target and hits[0][0].meta == target.meta
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert {p.article_id for p, _ in hits} == {target.article_id}
    assert index.search(query, article_id="PMC0", k=5) == []
    unrestricted = index.search(query, k=len(corpus))
    assert {p.article_id for p, _ in unrestricted} == {corpus[0].article_id, target.article_id}

    # alpha = 1 ranks by cosine alone, alpha = 0 by BM25 alone (Weaviate's convention)
    vec_only = index.hits(query, k=5, alpha=1.0)
    assert [h.cosine for h in vec_only] == sorted((h.cosine for h in vec_only), reverse=True)
    kw_only = [h for h in index.hits(query, k=5, alpha=0.0) if h.score > 0]
    assert kw_only and [h.bm25 for h in kw_only] == sorted((h.bm25 for h in kw_only), reverse=True)

    # many queries at once (embedded in one batch) find what one query at a time finds
    asks = [(middle_sentence(p.text), a) for p in corpus[::5] for a in (p.article_id, None)]
    batch = index.hits_batch([q for q, _ in asks], [a for _, a in asks], k=3)
    one_by_one = [index.hits(q, article_id=a, k=3) for q, a in asks]
    assert [[h.passage.id for h in hs] for hs in batch] == [[h.passage.id for h in hs] for hs in one_by_one]
    assert [h.score for hs in batch for h in hs] == pytest.approx([h.score for hs in one_by_one for h in hs], abs=1e-5)
    index.close()

    reopened = open_index(index_spec, memo)
    assert len(reopened) == len(corpus)
    again = reopened.search(query, article_id=target.article_id, k=5)
    assert [p for p, _ in again] == [p for p, _ in hits]
    assert [s for _, s in again] == pytest.approx(scores, abs=1e-4)  # vectors reloaded as float32
    reopened.add(corpus)
    assert len(reopened) == len(corpus)
    reopened.close()


def test_local_bm25_is_bm25s_after_every_add(memo, corpus, tmp_path):
    """The article search scores from statistics kept up to date by add; the corpus search asks
    bm25s: both must equal bm25s's scores over the passages added so far."""
    import bm25s

    index = open_index(tmp_path / "index", memo)
    for upto in (10, len(corpus)):
        index.add(corpus[:upto])
        ref = bm25s.BM25()
        ref.index(bm25_tokens([p.text for p in corpus[:upto]]), show_progress=False)
        for target in corpus[: upto : 3]:
            query = f"{middle_sentence(target.text)} lysis lysis lipase"  # a repeated term counts twice
            want = ref.get_scores(bm25_tokens([query])[0])
            hits = index.hits(query, article_id=target.article_id, k=8, alpha=0.0) + index.hits(query, k=8, alpha=0.0)
            assert any(h.bm25 > 0 for h in hits)
            for h in hits:
                assert h.bm25 == pytest.approx(want[corpus.index(h.passage)], rel=1e-4, abs=1e-6)
    index.close()


def test_ungrounded_query_scores_lower_than_grounded(memo, corpus, tmp_path):
    index = open_index(tmp_path / "index", memo)
    index.add(corpus)
    phage = corpus[0].article_id
    # a sentence of the phage paper, and one about another article (the Dutch oral health
    # questionnaire), each asked of the phage paper
    grounded = middle_sentence(corpus[7].text)
    other = middle_sentence(paragraphs(ORAL, 3)[2].text)
    good = index.hits(grounded, article_id=phage, k=1)[0]
    bad = index.hits(other, article_id=phage, k=1)[0]
    assert good.passage == corpus[7]
    # the cosine tells them apart; the fused score is relative (the best passage of the article
    # scores near 1 however poor the match), so it is only lower
    assert good.cosine > 0.6 and bad.cosine < 0.3, (good.cosine, bad.cosine)
    assert bad.score < good.score
    index.close()


def test_local_index_resumes_after_a_killed_add_and_refuses_a_second_writer(memo, corpus, tmp_path):
    path = tmp_path / "index"
    index = open_index(path, memo)
    index.add(corpus[:6])
    with pytest.raises(ProteinLMError, match="open in another process"):
        open_index(path, memo)
    index.close()
    # a kill mid-add: a vector row without its line, and half a line
    with open(path / "vectors.f32", "ab") as fh:
        fh.write(np.ones(384, dtype=np.float32).tobytes())
    with open(path / "passages.jsonl", "ab") as fh:
        fh.write(b'{"id": "PMC3166277:p6", "artic')
    index = open_index(path, memo)
    assert len(index) == 6 and (path / "vectors.f32").stat().st_size == 6 * 384 * 4
    index.add(corpus)
    assert len(index) == len(corpus)
    target = corpus[6]
    assert index.search(middle_sentence(target.text), article_id=target.article_id, k=1)[0][0] == target
    index.close()

    class Other:
        name, dim = "other-model", 384

        def embed(self, texts):
            return np.zeros((len(texts), 384), dtype=np.float32)

    with pytest.raises(ProteinLMError, match="holds all-MiniLM-L6-v2 vectors"):
        open_index(path, Other())
    (path / "passages.jsonl").write_bytes(b"not json\n")
    (path / "vectors.f32").write_bytes(np.zeros(384, dtype=np.float32).tobytes())
    with pytest.raises(ProteinLMError, match=r"passages.jsonl, line 1"):
        open_index(path, memo)


def test_server_index_specs(minilm):
    with pytest.raises(ProteinLMError, match="not a directory, qdrant"):
        open_index("http://127.0.0.1:1/x", minilm)
    try:
        import weaviate  # noqa: F401
    except ImportError:
        with pytest.raises(ProteinLMError, match="weaviate-client"):
            open_index("weaviate://127.0.0.1:8080/Passages", minilm)
