"""`proteinlm bench ...`: evaluate a model, compare runs, export to lm-eval (registered by cli.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from proteinlm.cli_console import console, fail as _fail, progress as _progress
from proteinlm.errors import ProteinLMError

bench_app = typer.Typer(
    help="Evaluate a model on a multiple-choice benchmark (run with options), or use a subcommand.",
    invoke_without_command=True,
)


@bench_app.callback()
def bench(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model dir, .gguf file, hub id, server model name, or `smollm2` (embedded)."),
    backend: str = typer.Option("hf", "--backend", help="hf | openai | llamacpp (a .gguf file run by llama.cpp)"),
    bench_spec: Optional[str] = typer.Option(None, "--bench", help="JSON/JSONL/CSV file, `sample`, or hf:tsynbio/ProteinLMBench."),
    method: str = typer.Option("loglik", "--method", help="loglik | loglik-norm | generate"),
    prompt: str = typer.Option("official", "--prompt", help="official | letter | path to a template file (YAML/JSON)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (resumes if it holds an unfinished run)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1"),
    concurrency: int = typer.Option(8, "--concurrency", help="Parallel requests (openai backend)."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds per request (openai backend)."),
    max_retries: int = typer.Option(5, "--max-retries", help="Retries on 429/5xx/timeouts (openai backend)."),
    batch_size: int = typer.Option(8, "--batch-size", help="Questions per forward pass (hf backend)."),
    dtype: str = typer.Option("auto", "--dtype", help="auto | float32 | bfloat16 | float16 (hf backend)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (hf and llamacpp backends)."),
    n_ctx: int = typer.Option(4096, "--n-ctx", help="Context length in tokens (llamacpp backend)."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Run model code from the model repo (off by default)."),
    raw: bool = typer.Option(False, "--raw", help="Send raw text, without the model's chat template."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", help="generate: tokens per answer."),
    temperature: float = typer.Option(0.0, "--temperature", help="generate: 0 = greedy."),
    top_p: float = typer.Option(1.0, "--top-p", help="generate: nucleus sampling."),
    seed: int = typer.Option(1234, "--seed", help="generate: sampling seed."),
    stop_at_answer: bool = typer.Option(
        True,
        "--stop-at-answer/--full-output",
        help="generate: stop a reply once it has stated its answer in the form the prompt asks for "
        "(local backends stop there; a server's reply is cut after it); --full-output generates up to "
        "--max-new-tokens.",
    ),
    extract: str = typer.Option(
        "faithful",
        "--extract",
        help="generate: faithful (read the verdict the reply states) | published (the published evaluator: "
        "sampled at T=0.1, 20 new tokens, prompt replaced out of the decoded text, first integer; "
        "overrides --temperature, --max-new-tokens and --stop-at-answer).",
    ),
    abstain_label: Optional[str] = typer.Option(
        None,
        "--abstain-label",
        help="Option number the instructions name for 'unsure' (official prompt: 7, an answer in questions "
        "with 7+ options), or `none` to drop that sentence.",
    ),
    label: Optional[str] = typer.Option(None, "--label", help="Name of the run in reports and charts (default: the --out folder's name)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N questions."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Skip and count invalid records instead of stopping."),
):
    """Evaluate MODEL on a benchmark; prints an accuracy table and writes a run directory."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [flag for flag, value in (("--model", model), ("--bench", bench_spec), ("--out", out)) if not value]
    if missing:
        _fail(ProteinLMError(f"missing {', '.join(missing)} (see `proteinlm bench --help`)"))
    from proteinlm.bench.loaders import load_bench
    from proteinlm.bench.prompts import load_prompt_format, parse_abstain_label
    from proteinlm.bench.report import print_run
    from proteinlm.bench.runner import RunSettings, run_bench
    from proteinlm.models import load_backend
    from proteinlm.models.base import GenerationParams

    try:
        fmt = load_prompt_format(prompt)
        if abstain_label is not None:
            fmt = fmt.with_abstain_label(parse_abstain_label(abstain_label))
        settings = RunSettings(
            method=method,
            extract=extract,
            generation=GenerationParams(
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
                stop_regex=fmt.answer_regex if stop_at_answer else None,
            ),
            # questions per backend call: the cache is flushed after each, so this is what a kill can lose
            chunk_size=max(1, 2 * (concurrency if backend == "openai" else batch_size)),
        )
        data = load_bench(bench_spec, skip_invalid=skip_invalid)
        if data.skipped:
            console.print(f"[yellow]skipped {len(data.skipped)} invalid records[/] (listed in summary.json)")
        if extract == "published":
            g = settings.generation
            console.print(f"published decoding: sampled at T={g.temperature}, {g.max_new_tokens} new tokens, first integer")
        asked = data.records[:limit] if limit else data.records
        clashes = sum(not fmt.abstains(len(q.options)) for q in asked) if fmt.abstain_number else 0
        if clashes:
            console.print(
                f"[yellow]{clashes} questions have {fmt.abstain_number}+ options[/]: there \"option "
                f"{fmt.abstain_number}\" is an answer, not the abstention (--abstain-label sets another)"
            )
        console.print(f"loading {backend} model [bold]{model}[/] ...")
        be = load_backend(
            model,
            backend,
            base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
            chat=False if raw else None,
            dtype=dtype,
            threads=threads,
            trust_remote_code=trust_remote_code,
            batch_size=batch_size,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            n_ctx=n_ctx,
        )
        try:
            with _progress() as bar:
                def factory(total: int):
                    task = bar.add_task(f"{method} · {data.name}", total=total)
                    return lambda n: bar.advance(task, n)

                summary = run_bench(be, data, fmt, out, settings, progress_factory=factory, limit=limit, label=label)
        finally:
            be.close()
    except ProteinLMError as exc:
        _fail(exc)
    print_run(summary, Console())
    console.print(f"run written to [bold]{out}[/]")


@bench_app.command("report")
def bench_report(
    runs: List[Path] = typer.Argument(..., help="Run directories to compare."),
    out: Path = typer.Option(Path("."), "--out", help="Where to write report.md and report.png."),
):
    """Compare runs: print a table, write a markdown table and a bar chart with 95% intervals."""
    from proteinlm.bench.report import load_summaries, print_table, write_report

    try:
        print_table(load_summaries(runs), Console())
        md, png = write_report(runs, out)
    except ProteinLMError as exc:
        _fail(exc)
    console.print(f"wrote {md} and {png}")


@bench_app.command("export-lm-eval")
def bench_export_lm_eval(
    bench_spec: str = typer.Option(..., "--bench", help="JSON/JSONL/CSV file or `sample`."),
    prompt: str = typer.Option("official", "--prompt", help="official | letter | template file."),
    out: Path = typer.Option(..., "--out", help="Directory for the lm-evaluation-harness task."),
    task_name: Optional[str] = typer.Option(None, "--task-name", help="Default: proteinlm_<bench>_<prompt>."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Leave invalid records out instead of stopping."),
):
    """Write an lm-evaluation-harness task (YAML + utils) for the same questions and prompt."""
    import re

    from proteinlm.bench.lm_eval_export import export_lm_eval
    from proteinlm.bench.loaders import load_bench
    from proteinlm.bench.prompts import load_prompt_format

    try:
        data = load_bench(bench_spec, skip_invalid=skip_invalid)
        fmt = load_prompt_format(prompt)
        name = task_name or re.sub(r"\W+", "_", f"proteinlm_{data.name}_{fmt.name}").lower()
        paths = export_lm_eval(data.records, fmt, out, name)
    except ProteinLMError as exc:
        _fail(exc)
    for p in paths:
        typer.echo(str(p))


@bench_app.command("check")
def bench_check(
    bench_spec: str = typer.Argument(..., help="JSON/JSONL/CSV file, `sample`, or hf:owner/name."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole report as JSON on stdout instead of the table."),
):
    """Lint a benchmark file: option counts, answer spread, duplicates, stale explanations, CSV cuts,
    abstention clashes. Exits 1 on errors that make scoring wrong (warnings do not count)."""
    import json

    from proteinlm.bench.lint import lint_bench, print_report

    try:
        report = lint_bench(bench_spec)
    except ProteinLMError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=1, ensure_ascii=False))
    else:
        print_report(report, Console())
    if report.errors:
        raise typer.Exit(code=1)
