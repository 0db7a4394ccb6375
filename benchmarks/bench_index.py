"""Embedded hybrid index candidates for `benchgen from-papers`, compared on real PMC passages.

Corpus: the real articles in ../shared/data/pmc, cut by the pipeline's own chunker (chunks of
<= 5,000 characters, passages of <= 1,000 inside them), then replicated as distinct articles
("PMC123~r7") up to each `--scale`. Queries: one sentence from the middle of each real passage,
asked of its article (as the evidence step asks) and of the whole corpus; a hit is the passage the
sentence came from (whole-corpus recall on the real corpus only: a replicated passage's copies tie). Embeddings (all-MiniLM-L6-v2,
the default embedder) are computed once and looked up, so build times and latencies are the
index's own; the model's cost is printed beside them. Every candidate fuses its BM25 and vector
result lists the same way (`fuse_relative`, alpha 0.8, 100 candidates each), so recall differs only
by the engines' BM25 variants and tokenisers.

Candidates: bm25s + numpy (`LocalIndex`, the shipped default), SQLite FTS5 + numpy (standard
library), LanceDB (native FTS index + flat vector search, `pip install lancedb`), Qdrant local mode
(`QdrantIndex` on qdrant+local://, dense + sparse BM25 vectors; skipped above 20k points, where
qdrant-client's pure-Python local mode is not meant to go).

    python benchmarks/bench_index.py                      # real corpus and 10k passages, ~3 min
    python benchmarks/bench_index.py --scales 100000 --only local,sqlite,lancedb
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from proteinlm.benchgen.papers.chunk import chunk_article, passages, read_articles
from proteinlm.benchgen.papers.embed import load_embedder
from proteinlm.benchgen.papers.hybrid import (
    CANDIDATES,
    Passage,
    bm25_tokens,
    fuse_relative,
    top_candidates,
)
from proteinlm.benchgen.papers.index import open_index

SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
ALPHA, K = 0.8, 5


class Precomputed:
    """Embeddings computed once, looked up by text: the index benchmark leaves the model out."""

    def __init__(self, name: str, table: dict[str, np.ndarray]):
        self.name, self.dim, self.table = name, len(next(iter(table.values()))), table

    def embed(self, texts):
        return np.array([self.table[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


# ------------------------------------------------------------------------------ candidates
class Shipped:
    """LocalIndex or QdrantIndex through `open_index`, as the pipeline uses them."""

    def __init__(self, spec: str, embedder):
        self.index = open_index(spec, embedder)

    def add(self, items):
        self.index.add(items)

    def query(self, text, article_id):
        return [p.id for p, _ in self.index.search(text, article_id=article_id, k=K, alpha=ALPHA)]

    def close(self):
        self.index.close()


class SqliteFts:
    """SQLite FTS5 (porter stemmer, its bm25()) for keywords, a numpy matrix for vectors."""

    def __init__(self, folder: Path, embedder):
        folder.mkdir(parents=True, exist_ok=True)
        self.embedder, self.folder = embedder, folder
        self.db = sqlite3.connect(folder / "fts.sqlite")
        self.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS p USING fts5(pid UNINDEXED, article_id UNINDEXED, "
                        "text, tokenize='porter unicode61')")
        self.ids: list[str] = []
        self.rows: dict[str, list[int]] = {}
        for rowid, pid, article_id in self.db.execute("SELECT rowid, pid, article_id FROM p ORDER BY rowid"):
            self.rows.setdefault(article_id, []).append(rowid)
            self.ids.append(pid)
        saved = folder / "vectors.npy"
        self.matrix = np.load(saved) if saved.exists() else np.zeros((0, embedder.dim), dtype=np.float32)

    def add(self, items):
        vecs = self.embedder.embed([p.text for p in items])
        with self.db:
            self.db.executemany("INSERT INTO p(rowid, pid, article_id, text) VALUES (?, ?, ?, ?)",
                                [(len(self.ids) + i, p.id, p.article_id, p.text) for i, p in enumerate(items)])
        for p in items:
            self.rows.setdefault(p.article_id, []).append(len(self.ids))
            self.ids.append(p.id)
        self.matrix = np.concatenate([self.matrix, vecs])
        np.save(self.folder / "vectors.npy", self.matrix)

    def query(self, text, article_id):
        rows = np.asarray(self.rows[article_id]) if article_id else None
        qv = self.embedder.embed([text])[0]
        cos = (self.matrix if rows is None else self.matrix[rows]) @ qv
        terms = " OR ".join('"' + w.replace('"', "") + '"' for w in re.findall(r"\w\w+", text))
        sql = "SELECT rowid, -bm25(p) FROM p WHERE p MATCH ?" + (" AND article_id = ?" if article_id else "")
        args = (terms, article_id) if article_id else (terms,)
        found = self.db.execute(sql + f" ORDER BY bm25(p) LIMIT {CANDIDATES}", args).fetchall() if terms else []
        pos = {int(r): i for i, r in enumerate(rows)} if rows is not None else None
        keyword = {(pos[r] if pos else r): s for r, s in found}
        fused = fuse_relative(top_candidates(cos, CANDIDATES), keyword, ALPHA, K)
        return [self.ids[int(rows[i]) if rows is not None else i] for i, _ in fused]

    def close(self):
        self.db.close()


class Lance:
    """LanceDB: one table (id, article_id, text, vector), its native FTS index, flat vector search."""

    def __init__(self, folder: Path, embedder):
        import lancedb

        self.db, self.embedder, self.table = lancedb.connect(str(folder)), embedder, None
        self.stale = False

    def add(self, items):
        import pyarrow as pa

        vecs = self.embedder.embed([p.text for p in items])
        data = pa.table({
            "pid": [p.id for p in items], "article_id": [p.article_id for p in items], "text": [p.text for p in items],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]),
        })
        if self.table is None:
            self.table = self.db.create_table("passages", data, mode="overwrite")
        else:
            self.table.add(data)
        self.stale = True

    def query(self, text, article_id):
        if self.stale:  # the FTS index built once, before the first search (as bm25s's is)
            from lancedb.index import FTS

            self.table.create_index("text", config=FTS(), replace=True)
            self.stale = False
        where = f"article_id = '{article_id}'" if article_id else None
        qv = self.embedder.embed([text])[0]
        vq = self.table.search(qv, query_type="vector").distance_type("cosine").limit(CANDIDATES)
        vq = vq.select(["pid", "_distance"])
        fq = self.table.search(text, query_type="fts").limit(CANDIDATES).select(["pid", "_score"])
        if where:
            vq, fq = vq.where(where, prefilter=True), fq.where(where, prefilter=True)
        vec = vq.to_arrow()
        kw = fq.to_arrow() if bm25_tokens([text])[0] else None
        ids = list(dict.fromkeys(vec["pid"].to_pylist() + (kw["pid"].to_pylist() if kw is not None else [])))
        key = {pid: i for i, pid in enumerate(ids)}
        vector = {key[p]: 1.0 - d for p, d in zip(vec["pid"].to_pylist(), vec["_distance"].to_pylist())}
        keyword = {key[p]: s for p, s in zip(kw["pid"].to_pylist(), kw["_score"].to_pylist())} if kw is not None else {}
        return [ids[i] for i, _ in fuse_relative(vector, keyword, ALPHA, K)]

    def close(self):
        pass


def make(name: str, folder: Path, embedder):
    if name == "local":
        return Shipped(str(folder), embedder)
    if name == "qdrant":
        return Shipped(f"qdrant+local://{folder}/passages", embedder)
    if name == "sqlite":
        return SqliteFts(folder, embedder)
    return Lance(folder, embedder)


LABELS = {"local": "bm25s + numpy (default)", "sqlite": "SQLite FTS5 + numpy", "lancedb": "LanceDB",
          "qdrant": "Qdrant local mode"}


# ------------------------------------------------------------------------------ workload
def real_corpus() -> list[Passage]:
    files = sorted((REPO.parent / "shared" / "data" / "pmc").glob("*.nxml"))
    out = []
    for article in read_articles(files, on_error=lambda e: print("skipped:", e)):
        for chunk in chunk_article(article):
            for pid, _, _, text in passages(chunk):
                out.append(Passage(pid, chunk.article_id, text, {"chunk": chunk.id}))
    return out


def queries_for(corpus: list[Passage]) -> list[tuple[str, Passage]]:
    out = []
    for p in corpus:
        sentences = [s for s in SENTENCE.split(p.text) if len(s) >= 40]
        if sentences:
            out.append((sentences[len(sentences) // 2], p))
    return out


def replicate(corpus: list[Passage], n: int) -> list[Passage]:
    out, r = list(corpus), 1
    while len(out) < n:
        out += [Passage(f"{p.id}~r{r}", f"{p.article_id}~r{r}", p.text, p.meta) for p in corpus[: n - len(out)]]
        r += 1
    return out


def du(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def measure(name, corpus, queries, rng, workdir: Path) -> dict:
    folder = workdir / name
    shutil.rmtree(folder, ignore_errors=True)
    replicas: dict[str, list[str]] = {}  # article -> its replica suffixes ("" for the original)
    for p in corpus:
        base, _, rep = p.article_id.partition("~")
        if rep not in replicas.setdefault(base, []):
            replicas[base].append(rep)
    t0 = time.perf_counter()
    index = make(name, folder, EMB)
    for i in range(0, len(corpus), 1000):  # as the pipeline adds: article by article, in batches
        index.add(corpus[i : i + 1000])
    index.query(queries[0][0], None)  # first search: builds what is built lazily
    build = time.perf_counter() - t0
    res = {"passages": len(corpus), "build_s": build, "disk_mb": du(folder)}
    replicated = any("~" in p.article_id for p in corpus)
    for scope in ("article", "corpus"):
        lat, top1, top5 = [], 0, 0
        for text, target in queries:
            rep = rng.choice(replicas[target.article_id])
            aid = (f"{target.article_id}~{rep}" if rep else target.article_id) if scope == "article" else None
            want = f"{target.id}~{rep}" if (rep and scope == "article") else target.id
            t = time.perf_counter()
            got = index.query(text, aid)
            lat.append(time.perf_counter() - t)
            ok = [g == want for g in got]
            top1 += bool(ok[:1] and ok[0])
            top5 += any(ok)
        lat_ms = sorted(x * 1000 for x in lat)
        res[scope] = {"p50_ms": statistics.median(lat_ms), "p95_ms": lat_ms[int(0.95 * (len(lat_ms) - 1))],
                      "recall@1": top1 / len(queries), "recall@5": top5 / len(queries)}
        if replicated and scope == "corpus":  # the copies of a passage tie: recall is not defined
            res[scope]["recall@1"] = res[scope]["recall@5"] = None
    index.close()
    t0 = time.perf_counter()
    again = make(name, folder, EMB) if name != "lancedb" else None  # LanceDB reopens lazily
    if again is not None:
        again.query(queries[0][0], queries[0][1].article_id)
        res["reopen_s"] = time.perf_counter() - t0
        again.close()
    return res


def fmt(x: float | None, width: int = 5) -> str:
    return f"{x:{width}.2f}" if x is not None else f"{'-':>{width}}"


def main() -> None:
    global EMB
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="real,10000", help="comma-separated: 'real' and/or passage counts")
    ap.add_argument("--only", default="local,sqlite,lancedb,qdrant")
    ap.add_argument("--queries", type=int, default=200, help="queries per scale (a sample of the real ones)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_index.json"))
    args = ap.parse_args()

    corpus = real_corpus()
    queries = queries_for(corpus)
    print(f"real corpus: {len(corpus)} passages of {len({p.article_id for p in corpus})} articles, "
          f"{sum(len(p.text) for p in corpus) / len(corpus):.0f} chars on average; {len(queries)} queries")
    model = load_embedder()
    texts = list(dict.fromkeys([p.text for p in corpus] + [q for q, _ in queries]))
    model.embed(texts[:8])  # warm-up
    t0 = time.perf_counter()
    model.embed([p.text for p in corpus[:64]])
    passage_rate = 64 / (time.perf_counter() - t0)
    # the vectors of every text, computed once and kept beside the results for later runs
    cache = Path(args.out).with_name("bench_index_vectors.npz")
    if cache.exists() and (old := np.load(cache, allow_pickle=False))["texts"].tolist() == texts:
        vecs = old["vectors"]
    else:
        vecs = model.embed(texts)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, texts=np.array(texts), vectors=vecs)
    t0 = time.perf_counter()
    for q, _ in queries[:50]:
        model.embed([q])
    query_embed_ms = (time.perf_counter() - t0) / 50 * 1000
    print(f"{model.name}: {passage_rate:.1f} passages/s in batches of 32, "
          f"{query_embed_ms:.1f} ms per single query")
    EMB = Precomputed(model.name, dict(zip(texts, vecs)))

    rng = random.Random(17)
    results = {"embedder": {"name": model.name, "texts_per_s": passage_rate, "query_ms": query_embed_ms}, "runs": []}
    workdir = Path(tempfile.mkdtemp(prefix="bench_index_"))
    try:
        for scale in args.scales.split(","):
            data = corpus if scale == "real" else replicate(corpus, int(scale))
            sample = rng.sample(queries, min(args.queries, len(queries)))
            print(f"\n== {len(data)} passages ({scale}), {len(sample)} queries, k={K}, alpha={ALPHA}")
            head = (f"{'index':26} {'build s':>8} {'MB':>7} {'reopen s':>8} | {'article p50/p95 ms':>19} "
                    f"{'R@1':>5} {'R@5':>5} | {'corpus p50/p95 ms':>18} {'R@1':>5} {'R@5':>5}")
            print(head + "\n" + "-" * len(head))
            rows = {}
            for name in args.only.split(","):
                if name == "qdrant" and len(data) > 20000:
                    print(f"{LABELS[name]:26} skipped (local mode is for < 20k points)")
                    continue
                try:
                    r = measure(name, data, sample, random.Random(5), workdir)
                except ImportError as exc:
                    print(f"{LABELS[name]:26} not installed ({exc.name})")
                    continue
                rows[name] = r
                a, c = r["article"], r["corpus"]
                print(f"{LABELS[name]:26} {r['build_s']:8.2f} {r['disk_mb']:7.1f} {fmt(r.get('reopen_s'), 8)} | "
                      f"{a['p50_ms']:8.2f} / {a['p95_ms']:8.2f} {fmt(a['recall@1'])} {fmt(a['recall@5'])} | "
                      f"{c['p50_ms']:7.2f} / {c['p95_ms']:8.2f} {fmt(c['recall@1'])} {fmt(c['recall@5'])}")
            if "local" in rows:
                base = rows["local"]
                for name, r in rows.items():
                    if name != "local":
                        print(f"  {LABELS[name]} / default: build x{r['build_s'] / base['build_s']:.2f}, "
                              f"article query x{r['article']['p50_ms'] / base['article']['p50_ms']:.2f}, "
                              f"corpus query x{r['corpus']['p50_ms'] / base['corpus']['p50_ms']:.2f}, "
                              f"disk x{r['disk_mb'] / base['disk_mb']:.2f}")
                per_s = len(data) / base["build_s"]
                print(f"  default index build: {per_s:,.0f} passages/s without the model; with {model.name} "
                      f"embedding (~{passage_rate:.0f} passages/s here) the build is the model's")
            results["runs"].append({"scale": scale, "passages": len(data), "queries": len(sample), "results": rows})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
