"""`proteinlm benchgen ...`: generate, review and export benchmark questions (registered by cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from proteinlm.cli_console import console, fail as _fail
from proteinlm.errors import ProteinLMError

benchgen_app = typer.Typer(help="Generate benchmark questions.", no_args_is_help=True)


@benchgen_app.command("from-uniprot")
def benchgen_uniprot_cmd(
    build: Path = typer.Option(..., "--build", help="A `proteinlm build uniprot` output dir (its split decides the proteins)."),
    inputs: Optional[List[str]] = typer.Option(None, "--input", "-i", help="Swiss-Prot/UniProt files (default: the build's own inputs); repeatable."),
    out: Path = typer.Option(..., "--out", help="Benchmark JSON (ProteinLMBench shape)."),
    split: str = typer.Option("validation", "--split", help="Proteins of this split get questions."),
    options: int = typer.Option(4, "--options", help="Options per question (2-6)."),
    kinds: Optional[str] = typer.Option(None, "--kinds", help="Comma-separated question kinds (default: all)."),
    max_residues: int = typer.Option(400, "--max-residues", help="Longer sequences are shown cut, and said to be."),
    seed: int = typer.Option(0, "--seed", help="Seeds the choice of distractors and the answer position."),
):
    """Template MCQs with verifiable answers from Swiss-Prot annotations."""
    from proteinlm.benchgen.from_uniprot import QuestionOptions, questions_from_build

    try:
        qs, stats = questions_from_build(build, inputs=list(inputs or []), split=split, opts=QuestionOptions(
            n_options=options, kinds=tuple(kinds.split(",")) if kinds else None, max_residues=max_residues, seed=seed))
    except ProteinLMError as exc:
        _fail(exc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(qs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"{len(qs)} questions from {stats['proteins']} {split} proteins → {out} "
                  f"(by kind: {stats['by_kind']}; skipped: {stats['skipped']})")


@benchgen_app.command("from-papers")
def benchgen_papers_cmd(
    inputs: List[str] = typer.Option(..., "--input", "-i", help="PMC .nxml / OA .tar.gz packages / PubMed XML(.gz); repeatable."),
    out: Path = typer.Option(..., "--out", help="Run directory: bench.json, provenance.jsonl, manifest.json, calls.sqlite, index/."),
    generator: str = typer.Option(..., "--generator", help="Generator model (server model name, hf path/id, or smollm2)."),
    validator: str = typer.Option(..., "--validator", help="Validator model, answers each question from its passage."),
    generator_backend: str = typer.Option("openai", "--generator-backend", help="openai | hf | llamacpp."),
    generator_url: Optional[str] = typer.Option(None, "--generator-url", help="OpenAI-compatible base URL (key from OPENAI_API_KEY)."),
    validator_backend: Optional[str] = typer.Option(None, "--validator-backend", help="Default: the generator's."),
    validator_url: Optional[str] = typer.Option(None, "--validator-url", help="Default: the generator's URL (same backend)."),
    embedder: Optional[str] = typer.Option(None, "--embedder", help="Embedding model: name, directory or URL#model (default: offline all-MiniLM-L6-v2)."),
    index: Optional[str] = typer.Option(None, "--index", help="Index: directory (default OUT/index-<hash>), qdrant://... or weaviate://..."),
    pdb_pubmed: Optional[List[str]] = typer.Option(None, "--pdb-pubmed", help="SIFTS pdb_pubmed.csv: only articles cited by PDB entries."),
    pmc_ids: Optional[List[str]] = typer.Option(None, "--pmc-ids", help="NCBI PMC-ids.csv(.gz): PMID → PMCID, with --pdb-pubmed."),
    per_chunk: int = typer.Option(1, "--per-chunk", help="Questions asked per chunk."),
    options: int = typer.Option(6, "--options", help="Options per question (2-6: the official prompt keeps \"option 7\" for unsure)."),
    max_chunks: Optional[int] = typer.Option(None, "--max-chunks", help="Stop after this many chunks."),
    chunk_chars: int = typer.Option(5000, "--chunk-chars", help="Chunk size limit in characters."),
    summarise: bool = typer.Option(False, "--summarise/--no-summarise", help="Summarise each chunk first (published pipeline)."),
    select_n: Optional[int] = typer.Option(None, "--select", help="How many questions to select."),
    strategy: str = typer.Option("all", "--strategy", help="published | stratified | all."),
    require_reading: bool = typer.Option(False, "--require-reading", help="Drop questions the validator answers without the passage or the question."),
    coherence_threshold: float = typer.Option(0.75, "--coherence", help="Coherence threshold (published 0.75)."),
    alpha: float = typer.Option(0.8, "--alpha", help="Hybrid search weight of the dense side (published 0.8)."),
    prompts: Optional[str] = typer.Option(None, "--prompts", help="Directory of replacement prompt templates (question.txt, ...)."),
    concurrency: int = typer.Option(8, "--concurrency", help="Requests in flight per server."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds per request before a retry."),
    max_retries: int = typer.Option(5, "--max-retries", help="Retries on 429/5xx/timeouts per request."),
    generate_tokens: int = typer.Option(1024, "--generate-tokens", help="Token limit of a generator reply."),
    seed: int = typer.Option(0, "--seed", help="Seeds generation sampling, the option shuffle and the selection."),
):
    """Questions from papers: chunk, generate, index, coherence, evidence, re-answer, dedup, shuffle, select."""
    from proteinlm.benchgen.papers.pipeline import PaperRunOptions, run_from_papers
    from proteinlm.benchgen.papers.report import print_counts
    from proteinlm.cli_console import progress

    opts = PaperRunOptions(
        inputs=tuple(inputs), out=out, generator=generator, validator=validator, generator_backend=generator_backend,
        generator_url=generator_url, validator_backend=validator_backend, validator_url=validator_url,
        embedder=embedder, index=index, pdb_pubmed=tuple(pdb_pubmed or ()), pmc_ids=tuple(pmc_ids or ()),
        per_chunk=per_chunk, n_options=options, max_chunks=max_chunks, chunk_chars=chunk_chars, summarise=summarise,
        select_n=select_n, strategy=strategy, require_reading=require_reading, coherence_threshold=coherence_threshold,
        alpha=alpha, prompts=prompts, concurrency=concurrency, timeout=timeout, max_retries=max_retries,
        generate_tokens=generate_tokens, seed=seed)
    try:
        with progress() as bar:
            tasks: dict = {}

            def tick(stage: str, n: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=None)
                bar.advance(tasks[stage], n)

            manifest = run_from_papers(opts, log=console.print, progress=tick)
    except ProteinLMError as exc:
        _fail(exc)
    print_counts(manifest, console)
    if not manifest["questions"]:
        console.print(f"[bold red]error:[/] no question survived (counts above); files written to {out}")
        raise typer.Exit(code=1)
    console.print(f"{manifest['questions']} questions → {out / 'bench.json'} (provenance.jsonl, manifest.json beside it)")


@benchgen_app.command("review")
def benchgen_review_cmd(
    source: Path = typer.Argument(..., help="A `benchgen from-papers` run dir, or any bench file (e.g. from-uniprot's)."),
    db: Optional[Path] = typer.Option(None, "--db", help="Review database (default: RUN_DIR/review.sqlite, or <file>.review.sqlite)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on; any other than loopback requires a token."),
    port: int = typer.Option(8765, "--port", help="Port (0: any free one; the URL printed says which)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="Name for a browser that has not given one."),
    token: Optional[str] = typer.Option(None, "--token", help="Access token (default off loopback: a new one, printed)."),
    reviews_needed: Optional[int] = typer.Option(None, "--reviews-needed", help="Reviews each question needs (1 or 2; kept in the database)."),
):
    """Review questions in the browser: accept, reject with a reason, edit, skip; every decision saved at once."""
    from proteinlm.benchgen.review.server import open_review, serve

    try:
        setup = open_review(source, db=db, host=host, token=token, reviews_needed=reviews_needed)
        console.print(f"{setup.store.count()} questions in {setup.store.path} ({setup.added} new from {source}"
                      + (f"; {setup.differ} differ from the file, the database's originals are kept" if setup.differ else "")
                      + f"); {setup.store.reviews_needed} review(s) per question")
        serve(setup, host=host, port=port, reviewer=reviewer)
    except ProteinLMError as exc:
        _fail(exc)


@benchgen_app.command("export")
def benchgen_export_cmd(
    source: Optional[Path] = typer.Argument(None, help="The reviewed run dir or bench file (its default review database)."),
    db: Optional[Path] = typer.Option(None, "--db", help="Review database (instead of SOURCE)."),
    out: Path = typer.Option(..., "--out", help="Bench JSON to write; review_log.jsonl and review_summary.json go beside it."),
    policy: str = typer.Option("all-accept", "--policy", help="any-accept | all-accept | majority"),
    seed: str = typer.Option("0", "--seed", help="Seed of the option shuffle."),
):
    """Write the accepted questions (edited versions where edited) as a bench, with the review log."""
    from proteinlm.benchgen.review.export import export
    from proteinlm.benchgen.review.questions import default_db
    from proteinlm.benchgen.review.report import print_summary

    if (source is None) == (db is None):
        _fail(ProteinLMError("give either SOURCE (run dir or bench file) or --db"))
    try:
        result = export(db or default_db(source), out, policy=policy, seed=int(seed) if seed.lstrip("-").isdigit() else seed)
    except ProteinLMError as exc:
        _fail(exc)
    print_summary(result.summary, console)
    if not result.written:
        console.print(f"[bold red]error:[/] no question is accepted under {policy} (log: {result.log})")
        raise typer.Exit(code=1)
    console.print(f"{result.written} questions → {result.out} (log: {result.log}; summary: {result.summary_path})")
