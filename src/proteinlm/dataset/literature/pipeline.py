"""`proteinlm build pubmed|pmc|seq-in-text|bilingual`: literature → pretraining documents, as
shards with a manifest (the model is `build_uniprot`).

Every subset goes through the same machinery:

    inputs ──(one task per input file, `--workers` processes, results in input order)──►
    Documents ──► normalize → length_filter → exact_dedup → near_dedup ──► shards of
    `shard_docs` documents: DIR/pretrain/<subset>/train-NNNNN.jsonl.gz (+ .parquet)

Shards are cut by document count *after* processing (not one per input file): PubMed baseline
files are ~30k citations but PMC packages and bilingual files have no natural size, and dedup
is global, so a shard's contents depend on every earlier document. Files are parsed in parallel
but consumed in input order, so the output is the same whatever `--workers`.

Resume: shard k's files are renamed into place, then `.state/shard-NNNNN.json` records it. A
killed build re-reads and re-processes the inputs (dedup must see every earlier document) but
rewrites no recorded shard. `.state/options.json` refuses a resume with other options.

PubMed update files: inputs are read in the order given (baseline first, then updates). For each
PMID the *last* event wins (`pubmed_versions.py`): a later version of a citation replaces the
earlier one (it is written at the later position), and a `DeleteCitation` after the last version
removes it. This takes a first cheap pass over the inputs (`_pubmed_events`) and a reduce of its
results to each PMID's last event (memory: one dict entry per PMID), whose counts go to the
manifest's "versions" section.

Past one machine, `stages.py` runs the same per-file work (`_pubmed_events`, `_file_docs`) as
datatrove tasks, and `dedup_stages.py` the cleaning and dedup as sharded stages; both end in
`output.write_build`, as this build does.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

from proteinlm.dataset.engine.build_state import EXPECTED, claim, require_records
from proteinlm.dataset.literature.output import RECORDED, BuildLog, ShardStats, write_build
from proteinlm.dataset.literature.pubmed_versions import Position, VersionStats, last_events
from proteinlm.errors import ProteinLMError
from proteinlm.records import Article, Document

SUBSETS = ("pubmed", "pmc", "seq_in_text", "bilingual")


@dataclass
class LiteratureOptions:
    subset: str  # one of SUBSETS
    inputs: list[str]  # pubmed/pmc/bilingual files; PubMed files for seq_in_text
    out: str
    workers: int = 1
    shard_docs: int = 10000
    min_chars: int = 200
    near_dedup: bool = True
    near_threshold: float = 0.8
    tokenizer: str = "smollm2"
    formats: tuple[str, ...] = ("jsonl.gz", "parquet")
    # pmc
    pdb_pubmed: list[str] = field(default_factory=list)
    pmc_ids: list[str] = field(default_factory=list)
    all_articles: bool = False
    # seq_in_text
    uniprot: list[str] = field(default_factory=list)
    max_proteins: int = 1
    seq_open: str = "<seq>"
    seq_close: str = "</seq>"
    seq_sep: str = " "
    # bilingual: "joined" (one document "zh\n\nen") or "separate" (two documents)
    pair_layout: str = "joined"
    allow_empty: bool = False  # an input without records, or no document at all, is not an error

    def fingerprint(self) -> dict:
        d = asdict(self)
        d.pop("workers")
        d.pop("allow_empty")
        d.pop("out")  # a build dir may be moved; its manifest must not name where it was made
        d["formats"] = list(self.formats)
        return d


# ------------------------------------------------------------------------------- documents
def article_document(article: Article, subset: str) -> Document:
    """pubmed: title, then each abstract section as a paragraph ("LABEL: text" when labelled).
    pmc: title, then each section as "Section title\\n\\ntext" (text alone when untitled)."""
    parts = [article.title.strip()] if article.title.strip() else []
    for s in article.sections:
        label, body = s.title.strip(), s.text.strip()
        if not body:
            continue
        if subset == "pubmed":
            parts.append(f"{label}: {body}" if label and label.lower() != "abstract" else body)
        else:
            parts.append(f"{label}\n\n{body}" if label else body)
    meta = {"pmid": article.pmid, "pmcid": article.pmcid}
    return Document(id=f"{subset}-{article.id}", text="\n\n".join(parts), subset=subset, meta=meta)


# ------------------------------------------------------------------------------- per-file work
_worker: dict = {}


def _init_worker(opts: LiteratureOptions, context: dict) -> None:
    _worker["opts"] = opts
    _worker["context"] = context
    old = _worker.pop("matcher", None)
    if old is not None:
        old.close()
    if "index" in context:
        from proteinlm.dataset.literature.seq_in_text import MentionMatcher

        _worker["matcher"] = MentionMatcher(context["index"])


def _pubmed_events(task: tuple[int, str]) -> list[tuple[str, bool]]:
    """Pass 1 over a PubMed file: (pmid, deleted) per record, in file order."""
    from proteinlm.sources import pubmed

    return [(a.pmid, a.deleted) for a in pubmed.parse(task[1], on_error=lambda e: None)]


def _file_docs(task: tuple[int, str]) -> tuple[list[Document], list[str], dict]:
    """Documents of one input file (before processing), skipped records, subset counters."""
    index, path = task
    opts: LiteratureOptions = _worker["opts"]
    ctx = _worker["context"]
    skipped: list[str] = []
    counts: dict = {}

    def on_error(err) -> None:
        skipped.append(str(err))

    docs: list[Document] = []
    if opts.subset in ("pubmed", "seq_in_text"):
        articles = _pubmed_winners(index, path, ctx["last"], on_error, counts)
        if opts.subset == "pubmed":
            docs = [article_document(a, "pubmed") for a in articles]
        else:
            from proteinlm.dataset.literature.seq_in_text import SeqInTextStats, build_documents

            st = SeqInTextStats()
            docs = list(build_documents(articles, _worker["matcher"], st, max_proteins=opts.max_proteins,
                                        seq_tags=(opts.seq_open, opts.seq_close), seq_sep=opts.seq_sep))
            counts.update({k: v for k, v in asdict(st).items() if k not in ("ambiguous_names", "stopword_names")})
    elif opts.subset == "pmc":
        from proteinlm.sources import pmc

        keep = ctx.get("keep")
        for a in pmc.parse(path, on_error=on_error):
            counts["articles"] = counts.get("articles", 0) + 1
            if keep is not None and a.pmcid not in keep and (a.pmid is None or a.pmid not in keep):
                counts["not_cited_by_pdb"] = counts.get("not_cited_by_pdb", 0) + 1
                continue
            docs.append(article_document(a, "pmc"))
    elif opts.subset == "bilingual":
        from proteinlm.dataset.literature.bilingual import bilingual_documents

        docs = list(bilingual_documents(path, opts.pair_layout, on_error, counts))
    return docs, skipped, counts


def _pubmed_winners(index: int, path: str, last: dict, on_error, counts: dict) -> Iterator[Article]:
    """Articles of file `index` that are their PMID's last event across the inputs."""
    from proteinlm.sources import pubmed

    for k, a in enumerate(pubmed.parse(path, on_error=on_error)):
        if a.deleted:
            counts["delete_records"] = counts.get("delete_records", 0) + 1
            continue
        counts["citations"] = counts.get("citations", 0) + 1
        if last.get(a.pmid) != (index, k):
            reason = "deleted_later" if last.get(a.pmid) is None else "superseded"
            counts[reason] = counts.get(reason, 0) + 1
            continue
        yield a


# ------------------------------------------------------------------------------- the build


def _check_state(out: Path, opts: LiteratureOptions) -> dict[int, ShardStats]:
    claim(out, opts.fingerprint(), RECORDED)  # callers validate the arguments first
    records = (json.loads(f.read_text()) for f in sorted((out / ".state").glob("shard-*.json")))
    return {d["index"]: ShardStats(**d) for d in records}


def _pool_map(opts: LiteratureOptions, context: dict, fn, tasks: list, ahead: int | None = None) -> Iterator:
    """fn over tasks, results in task order; a pool of `workers` processes when > 1.

    At most `ahead` (default 2 x workers) tasks are submitted beyond the one being consumed: a
    result is every document of an input file, and the consumer (dedup) is often slower than the
    parsers, so `Pool.imap` (which submits everything at once) would pile up results in memory."""
    if opts.workers > 1 and len(tasks) > 1:
        n = min(opts.workers, len(tasks))
        with mp.get_context("spawn").Pool(n, _init_worker, (opts, context)) as pool:
            todo = iter(tasks)
            pending = deque(pool.apply_async(fn, (t,)) for t in islice(todo, ahead or 2 * n))
            while pending:
                result = pending.popleft().get()
                for t in islice(todo, 1):  # refill before handing the result over
                    pending.append(pool.apply_async(fn, (t,)))
                yield result
    else:
        _init_worker(opts, context)
        for t in tasks:
            yield fn(t)


Mapper = Callable[[LiteratureOptions, dict, Callable, list], Iterable]


Versions = tuple[dict[str, Position | None], VersionStats]


def reduce_versions(opts: LiteratureOptions, mapper: Mapper = _pool_map) -> Versions:
    """The versions step: each PMID's last event over every PubMed input (`_pubmed_events` of
    each file, through `mapper`, reduced in input order by `pubmed_versions.last_events`)."""
    return last_events(mapper(opts, {}, _pubmed_events, list(enumerate(opts.inputs))))


def _context(opts: LiteratureOptions, out: Path, skipped: list[str], extra: dict, mapper: Mapper = _pool_map,
             versions: Versions | None = None) -> dict:
    """What every per-file task needs (PubMed last events, PMC selection, seq-in-text index);
    appends to `skipped` and fills `extra` (manifest sections). `versions`: the versions step's
    result where it ran apart (datatrove); else it runs here."""
    ctx: dict = {}
    if opts.subset in ("pubmed", "seq_in_text"):
        last, stats = versions or reduce_versions(opts, mapper)
        if not opts.allow_empty:  # before any shard is written
            require_records(dict(zip(opts.inputs, stats.events)), EXPECTED[opts.subset], skipped)
        ctx["last"] = last
        extra["versions"] = stats.as_dict()
    if opts.subset == "pmc" and not opts.all_articles:
        from proteinlm.dataset.literature.pmc_selection import pmc_selection

        ctx["keep"], sel = pmc_selection(opts.pdb_pubmed, opts.pmc_ids, skipped)
        extra["selection"] = sel
    if opts.subset == "seq_in_text":
        from proteinlm.dataset.literature.seq_in_text import MentionMatcher, ensure_index

        ctx["index"], extra["index"] = ensure_index(opts.uniprot, out, skipped)
        if not opts.allow_empty and not extra["index"]["entries"]:
            require_records({", ".join(opts.uniprot): 0}, EXPECTED["uniprot"], skipped)
        m = MentionMatcher(ctx["index"])
        extra["index"].update(ambiguous_names=m.ambiguous_names, stopword_names=m.stopword_names, names_used=m.names)
        m.close()
    return ctx


def _steps(opts: LiteratureOptions) -> list:
    from proteinlm.dataset.steps import process

    steps = [process.normalize, partial(process.length_filter, min_chars=opts.min_chars), process.exact_dedup]
    if opts.near_dedup:
        steps.append(partial(process.near_dedup, threshold=opts.near_threshold))
    return steps


def validate(opts: LiteratureOptions) -> None:
    if opts.subset not in SUBSETS:
        raise ProteinLMError(f"unknown literature subset {opts.subset!r} (one of {', '.join(SUBSETS)})")
    if opts.pair_layout not in ("joined", "separate"):
        raise ProteinLMError(f"--pair-layout must be joined or separate, not {opts.pair_layout!r}")
    if opts.subset == "pmc" and not opts.all_articles and not (opts.pdb_pubmed and opts.pmc_ids):
        raise ProteinLMError("pmc: give --pdb-pubmed and --pmc-ids, or --all-articles to keep every article")
    if opts.subset == "seq_in_text" and not opts.uniprot:
        raise ProteinLMError("seq-in-text needs --uniprot (Swiss-Prot) inputs")
    for p in [*opts.inputs, *opts.uniprot, *opts.pdb_pubmed, *opts.pmc_ids]:
        if not Path(p).is_file():
            raise ProteinLMError(f"{p}: no such input file")


def build_literature(opts: LiteratureOptions, progress: Callable[[int], None] | None = None, *,
                     mapper: Mapper = _pool_map) -> dict:
    """Build (or resume) one subset. `mapper` runs the per-file functions (default: local
    processes, results in input order)."""
    from proteinlm.dataset.steps.process import run_steps
    from proteinlm.dataset.steps.tokens import TokenCounter

    validate(opts)
    started = time.perf_counter()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    done = _check_state(out, opts)
    counter = TokenCounter(opts.tokenizer, (opts.seq_open, opts.seq_close), opts.seq_sep)
    log = BuildLog()
    ctx = _context(opts, out, log.skipped, log.extra, mapper)
    tasks = list(enumerate(opts.inputs))

    def raw_docs() -> Iterator[Document]:
        for (_, path), (docs, bad, counts) in zip(tasks, mapper(opts, ctx, _file_docs, tasks)):
            log.add_file(opts.subset, path, bad, counts)
            if progress:
                progress(1)
            yield from docs

    stream, step_stats = run_steps(raw_docs(), _steps(opts))
    return write_build(opts, stream, lambda: [st.as_dict() for st in step_stats], done, counter,
                       log, started)
