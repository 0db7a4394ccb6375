"""`benchgen from-papers`: articles -> chunks -> questions -> scores -> answers -> selection -> files.

Chunks are read as a stream and processed in windows (`window` chunks at a time) through the
model steps, so a large corpus never sits in memory and each model step sends a whole window's
calls at once (the backend's concurrency is kept busy). The questions that survive re-answering
are gathered for the run-wide steps: dedup, shuffle, selection, writing.

Resuming: every model call goes through RUN_DIR/calls.sqlite (cache.py) and the index is
idempotent, so rerunning a killed run with the same arguments asks nothing already answered and
writes the same files as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

from proteinlm import __version__
from proteinlm.benchgen.papers import chunk as chunking
from proteinlm.benchgen.papers.cache import CallCache, LLMCaller
from proteinlm.benchgen.papers.generate import SCHEMA, generate_questions
from proteinlm.benchgen.papers.prompts import load_templates
from proteinlm.benchgen.papers.reanswer import answer_params, reanswer
from proteinlm.benchgen.papers.scores import coherence, evidence, index_chunks
from proteinlm.benchgen.papers.select import STRATEGIES, dedup, select, shuffle
from proteinlm.benchgen.papers.stages import Candidate, StageCounts
from proteinlm.benchgen.papers.validate import QUOTE_THRESHOLD, validate
from proteinlm.benchgen.papers.write import write_run
from proteinlm.bench.prompts import OFFICIAL
from proteinlm.errors import ProteinLMError
from proteinlm.models.base import GenerationParams

STAGES = ("chunk", "generate", "validate", "coherence", "evidence", "reanswer", "dedup", "shuffle", "select")
Log = Callable[[str], None]


@dataclass(frozen=True)
class PaperRunOptions:
    inputs: tuple[str, ...]
    out: Path
    generator: str
    validator: str
    generator_backend: str = "openai"
    generator_url: str | None = None
    validator_backend: str | None = None  # default: the generator's
    validator_url: str | None = None  # default: the generator's when the backend is the same
    embedder: str | None = None
    index: str | None = None  # default: RUN_DIR/index-<hash of chunk/passage sizes and embedder>
    pdb_pubmed: tuple[str, ...] = ()
    pmc_ids: tuple[str, ...] = ()
    per_chunk: int = 1
    n_options: int = 6
    max_chunks: int | None = None
    chunk_chars: int = 5000
    passage_chars: int = 1000
    summarise: bool = False
    select_n: int | None = None
    strategy: str = "all"
    seed: int = 0
    coherence_threshold: float = 0.75
    alpha: float = 0.8
    require_reading: bool = False
    prompts: str | None = None
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 5
    generate_tokens: int = 1024
    answer_tokens: int = 48
    temperature: float = 0.0
    window: int = 256

    def check(self) -> None:
        if not self.inputs:
            raise ProteinLMError("no --input given")
        missing = [p for p in (*self.inputs, *self.pdb_pubmed, *self.pmc_ids) if not Path(p).is_file()]
        if missing:  # before any model is loaded
            raise ProteinLMError(f"no such file: {', '.join(map(str, missing))}")
        if not 2 <= self.n_options <= 6:  # the official prompt reserves "option 7" for unsure
            raise ProteinLMError(f"--options {self.n_options}: use 2 to 6")
        if self.per_chunk < 1 or (self.max_chunks is not None and self.max_chunks < 1):
            raise ProteinLMError("--per-chunk and --max-chunks must be at least 1")
        if self.strategy not in STRATEGIES:
            raise ProteinLMError(f"unknown --strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if self.strategy != "all" and not self.select_n:
            raise ProteinLMError(f"--strategy {self.strategy} needs --select N")
        if bool(self.pdb_pubmed) != bool(self.pmc_ids):
            raise ProteinLMError("--pdb-pubmed and --pmc-ids go together (PDB-cited PMIDs mapped to PMCIDs)")


def _articles_to_chunks(opts: PaperRunOptions, counts: StageCounts, log: Log) -> Iterator[list[chunking.Chunk]]:
    """Per article kept, its chunks; stops once --max-chunks chunks have been given."""
    keep = None
    if opts.pdb_pubmed:
        from proteinlm.dataset.literature.pmc_selection import pmc_selection

        skipped: list[str] = []
        keep, sel = pmc_selection(list(opts.pdb_pubmed), list(opts.pmc_ids), skipped)
        log(f"selection: {sel['pdb_cited_pmids']} PMIDs cited by PDB entries, {sel['pmcids_mapped']} mapped "
            f"to PMCIDs ({len(skipped)} bad SIFTS rows skipped)")

    def bad(err) -> None:
        counts.take()
        counts.drop("unreadable")
        log(f"skipped: {err}")

    seen: set[str] = set()
    given = 0
    for article in chunking.read_articles(opts.inputs, bad):
        counts.take()
        key = chunking.article_key(article)
        if article.deleted:
            counts.drop("deleted")
        elif keep is not None and not ({article.pmcid, article.pmid} & keep):
            counts.drop("not_selected")
        elif key in seen:
            counts.drop("duplicate_article")
        else:
            seen.add(key)
            chunks = chunking.chunk_article(article, opts.chunk_chars)
            if not chunks:
                counts.drop("no_text")
                continue
            counts.keep()
            yield chunks
            given += len(chunks)
            if opts.max_chunks is not None and given >= opts.max_chunks:
                return


def _windows(opts: PaperRunOptions, counts: StageCounts, log: Log):
    """(chunks to ask about, every chunk of their articles) per window of about `window` chunks."""
    ask: list[chunking.Chunk] = []
    whole: list[chunking.Chunk] = []
    budget = opts.max_chunks
    for chunks in _articles_to_chunks(opts, counts, log):
        take = chunks if budget is None else chunks[:budget]
        if budget is not None:
            budget -= len(take)
        ask.extend(take)
        whole.extend(chunks)
        if len(ask) >= opts.window:
            yield ask, whole
            ask, whole = [], []
    if ask:
        yield ask, whole


def _backends(opts: PaperRunOptions):
    from proteinlm.models import load_backend

    common = {"concurrency": opts.concurrency, "timeout": opts.timeout, "max_retries": opts.max_retries}
    gen = load_backend(opts.generator, opts.generator_backend, base_url=opts.generator_url, **common)
    vbackend = opts.validator_backend or opts.generator_backend
    vurl = opts.validator_url or (opts.generator_url if vbackend == opts.generator_backend else None)
    if (opts.validator, vbackend, vurl) == (opts.generator, opts.generator_backend, opts.generator_url):
        return gen, gen  # one model in memory, not two
    return gen, load_backend(opts.validator, vbackend, base_url=vurl, **common)


def run_from_papers(opts: PaperRunOptions, log: Log = lambda s: None,
                    progress: Callable[[str, int], None] | None = None) -> dict:
    """Run every step and write RUN_DIR; returns the manifest (also written)."""
    from proteinlm.benchgen.papers.embed import load_embedder
    from proteinlm.benchgen.papers.index import open_index

    opts.check()
    templates = load_templates(opts.prompts)
    counts = {name: StageCounts(name) for name in STAGES}
    counts["chunk"].unit = "articles"
    counts["generate"].unit = "chunks"
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    gen_backend, val_backend = _backends(opts)
    cache = CallCache(out / "calls.sqlite")
    gen_params = GenerationParams(max_new_tokens=opts.generate_tokens, temperature=opts.temperature, seed=opts.seed)
    generator = LLMCaller(gen_backend, cache, gen_params, json_schema=SCHEMA)
    validator = LLMCaller(val_backend, cache, answer_params(opts.answer_tokens, opts.seed))
    embedder = load_embedder(opts.embedder)
    index = open_index(opts.index or str(out / _index_dir(opts, embedder.name)), embedder)
    tick = (lambda stage: (lambda n: progress(stage, n))) if progress else (lambda stage: None)
    survivors: list[Candidate] = []
    chunks_asked = passages = 0
    try:
        for ask, whole in _windows(opts, counts["chunk"], log):
            chunks_asked += len(ask)
            generated = list(generate_questions(
                ask, generator, templates, per_chunk=opts.per_chunk, n_options=opts.n_options,
                summarise=opts.summarise, counts=counts["generate"], progress=tick("generate")))
            cands = list(validate(generated, counts["validate"]))
            passages += index_chunks(index, whole, opts.passage_chars)
            cands = list(coherence(cands, embedder, opts.coherence_threshold, counts["coherence"]))
            cands = list(evidence(cands, index, opts.alpha, counts["evidence"]))
            survivors.extend(reanswer(cands, validator, templates["context"], counts["reanswer"],
                                      require_reading=opts.require_reading, progress=tick("reanswer")))
        kept = dedup(survivors, counts["dedup"])
        kept = shuffle(kept, opts.seed, counts["shuffle"])
        selected = list(select(kept, opts.strategy, opts.select_n, opts.seed, counts["select"]))
        models = {"generator": opts.generator, "validator": opts.validator, "embedder": embedder.name}
        prompts = {name: t.sha256 for name, t in templates.items()} | {"official": OFFICIAL.fingerprint()}
        if not opts.summarise:
            prompts.pop("summarise")
        manifest = _manifest(opts, counts, generator, validator, models, prompts, chunks_asked, passages,
                             len(index), selected)
        write_run(out, selected, manifest, models, prompts, opts.seed)
    finally:
        index.close()
        cache.close()
        for b in {id(gen_backend): gen_backend, id(val_backend): val_backend}.values():
            b.close()
    return manifest


def _manifest(opts, counts, generator, validator, models, prompts, chunks_asked, passages, index_size,
              selected) -> dict:
    from collections import Counter

    options = {k: v for k, v in asdict(opts).items() if k != "out"}
    options["inputs"] = [str(Path(p)) for p in opts.inputs]
    return {
        "kind": "benchgen-from-papers",
        "software": {"proteinlm": __version__},
        "inputs": [{"path": str(p), "bytes": Path(p).stat().st_size, "sha256": _sha256(Path(p))}
                   for p in opts.inputs],
        "options": options | {"quote_threshold": QUOTE_THRESHOLD},
        "models": models,
        "prompts": prompts,
        "stages": {name: c.as_dict() for name, c in counts.items()},
        "chunks_asked": chunks_asked,
        "passages_indexed": passages,
        "index_size": index_size,
        "questions": len(selected),
        "difficulty": dict(sorted(Counter(c.difficulty for c in selected).items())),
        "tokens": _merge_tokens(generator, validator),
        "this_run": {"calls_asked": _merge(generator.asked, validator.asked),
                     "calls_from_cache": _merge(generator.from_cache, validator.from_cache)},
    }


def _index_dir(opts: PaperRunOptions, embedder: str) -> str:
    """RUN_DIR/index-<hash>: passages (ids by offset) depend on the chunk and passage sizes and
    vectors on the embedder, so a rerun with other ones gets a fresh index, not a stale one."""
    key = f"{opts.chunk_chars}:{opts.passage_chars}:{embedder}"
    return "index-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def _merge_tokens(*callers: LLMCaller) -> dict:
    out: dict = {}
    for c in {id(c): c for c in callers}.values():
        for stage, t in c.tokens.items():
            mine = out.setdefault(stage, {"prompt": 0, "completion": 0})
            mine["prompt"] += t["prompt"]
            mine["completion"] += t["completion"]
    return dict(sorted(out.items()))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
