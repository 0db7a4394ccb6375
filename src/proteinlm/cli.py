"""The `proteinlm` command line: thin wrappers that parse flags and call one function each.

`build` lives here; `bench`, `train` and `benchgen` in cli_bench.py, cli_train.py and cli_benchgen.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperArgument, TyperGroup

from proteinlm import __version__
from proteinlm.cli_bench import bench_app
from proteinlm.cli_benchgen import benchgen_app
from proteinlm.cli_console import console
from proteinlm.cli_console import fail as _fail
from proteinlm.cli_console import progress as _progress
from proteinlm.cli_train import train_app
from proteinlm.errors import ProteinLMError

_METAVARS = {"int": "INTEGER", "float": "NUMBER", "Path": "PATH"}


def _plain_help(command) -> None:
    """Help without Python type tags: typer (>= 0.20) labels every value with its annotation
    (`<int>`, `<list[str]>`, even `<bool>` on a flag). Options get a plain metavar (INTEGER, NUMBER,
    TEXT, PATH) and flags none; arguments, whose name already says what they are, show no type.
    Applied to every command, whichever module adds it."""
    help_option = command.get_help_option(typer.Context(command))  # created once, then cached
    _plain_params([*command.params, *([help_option] if help_option else [])])
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def _plain_params(params: list) -> None:
    for param in params:
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or param.name.upper()  # usage: RUNS... rather than {runs}...
            param.display_type_rich = lambda ctx: None  # typer shows an argument's type whatever its metavar
        elif param.metavar is None:
            kind = param.bare_type().removeprefix("list[").rstrip("]")
            param.metavar = "" if param.is_flag else _METAVARS.get(kind, "TEXT")


class _RootGroup(TyperGroup):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # typer builds the subcommands first and passes them in
        _plain_help(self)

    def get_params(self, ctx):  # typer appends its shell-completion options after __init__
        params = super().get_params(ctx)
        _plain_params(params)
        return params


app = typer.Typer(help="Protein/text training data and ProteinLMBench evaluation for LLMs.", no_args_is_help=True,
                  cls=_RootGroup)
app.add_typer(bench_app, name="bench")
app.add_typer(train_app, name="train")
app.add_typer(benchgen_app, name="benchgen")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"proteinlm {__version__}")
        raise typer.Exit()


# invoke_without_command: `proteinlm --version` runs this callback (eager) without a subcommand
@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
):
    if ctx.invoked_subcommand is None:  # options but no command: show what there is
        typer.echo(ctx.get_help())
        raise typer.Exit(code=2)


build_app = typer.Typer(help="Build training data (pretraining documents, SFT examples) from raw sources.", no_args_is_help=True)
app.add_typer(build_app, name="build")


# `--input a.xml.gz b.xml.gz ...` (what a shell glob gives): the files after the first land here.
_MORE_INPUTS = typer.Argument(None, help="More input files, as after `--input` (so `--input *.gz` works).", show_default=False)


def _all_inputs(inputs: List[str], more: Optional[List[str]]) -> list[str]:
    return list(inputs) + list(more or [])


_ALLOW_EMPTY = typer.Option(False, "--allow-empty", help="Finish even when an input holds no record of the expected "
                            "kind or nothing is built (by default that stops the build with an error).")
_SHOWN_SKIPS = 5


def _print_skipped(manifest: dict) -> None:
    """The first skipped records (file:line: reason) on screen, then how many more the manifest lists."""
    records = manifest["skipped"]["records"]
    for message in records[:_SHOWN_SKIPS]:
        console.print(f"  skipped {message}", markup=False, highlight=False, soft_wrap=True)
    if len(records) > _SHOWN_SKIPS:
        console.print(f"  ... and {len(records) - _SHOWN_SKIPS} more skipped records (all in manifest.json)")


@build_app.command("uniprot")
def build_uniprot_cmd(
    inputs: List[str] = typer.Option(..., "--input", "-i", help="Swiss-Prot/UniProt flat file, XML or TSV (gzip ok); repeatable."),
    more_inputs: Optional[List[str]] = _MORE_INPUTS,
    out: Path = typer.Option(..., "--out", help="Output directory (a killed build resumes here)."),
    enzyme: Optional[List[str]] = typer.Option(None, "--enzyme", help="ExPASy enzyme.dat (repeatable), for Enzyme Chain-of-Thought."),
    sifts_enzyme: Optional[str] = typer.Option(None, "--sifts-enzyme", help="SIFTS pdb_chain_enzyme.csv (extra accession→EC map)."),
    workers: int = typer.Option(1, "--workers", help="Processes building chunks in parallel."),
    shard_entries: int = typer.Option(5000, "--shard-entries", help="Entries per shard (and per resumable chunk)."),
    val_fraction: float = typer.Option(0.02, "--val-fraction", help="Share of proteins (by accession hash) in validation."),
    per_ec: int = typer.Option(20, "--per-ec", help="ECoT: at most this many examples per EC number."),
    seed: int = typer.Option(0, "--seed", help="Seeds phrasing choices, splits and ECoT sampling."),
    tokenizer: str = typer.Option("smollm2", "--tokenizer", help="Tokenizer for token counts: smollm2, a local dir, or none."),
    seq_open: str = typer.Option("<seq>", "--seq-open", help="Tag before a sequence in the texts."),
    seq_close: str = typer.Option("</seq>", "--seq-close", help="Tag after a sequence in the texts."),
    seq_sep: str = typer.Option(" ", "--seq-sep", help="Separator between residues."),
    formats: str = typer.Option("jsonl.gz,parquet", "--formats", help="Comma-separated: jsonl.gz, parquet."),
    allow_empty: bool = _ALLOW_EMPTY,
    executor: str = typer.Option("local", "--executor", help="local (processes) | datatrove-local | slurm | ray (datatrove; same output)."),
    tasks: Optional[int] = typer.Option(None, "--tasks", help="datatrove tasks building chunks (default: --workers)."),
    executor_opt: Optional[List[str]] = typer.Option(None, "--executor-opt", help="KEY=VALUE for the datatrove executor, e.g. "
                                                     "partition=cpu, time=04:00:00; merge.KEY=VALUE for the one-task stages. Repeatable."),
):
    """Swiss-Prot (+ ENZYME) → pretraining text, UniProt topic SFT tasks and ECoT, with a manifest."""
    from rich.progress import SpinnerColumn

    from proteinlm.dataset.engine.executors import ExecutorSpec
    from proteinlm.dataset.uniprot.options import UniprotBuildOptions
    from proteinlm.dataset.uniprot.stages import run_build

    opts = UniprotBuildOptions(
        inputs=_all_inputs(inputs, more_inputs), out=str(out), enzyme=list(enzyme or []), sifts_enzyme=sifts_enzyme, workers=workers,
        shard_entries=shard_entries, val_fraction=val_fraction, seed=seed, per_ec=per_ec, tokenizer=tokenizer,
        seq_open=seq_open, seq_close=seq_close, seq_sep=seq_sep,
        formats=tuple(f.strip() for f in formats.split(",") if f.strip()), allow_empty=allow_empty,
    )
    try:
        spec = ExecutorSpec.from_cli(executor, tasks, executor_opt)
        if spec.type == "local":
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} entries"),
                          TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("building uniprot", total=None)
                manifest = run_build(opts, spec, progress=lambda n: bar.advance(task, n))
        else:  # datatrove logs its own progress
            manifest = run_build(opts, spec)
    except ProteinLMError as exc:
        _fail(exc)
    if manifest is None:
        console.print(f"submitted to {executor}: the last job writes {out}/manifest.json; "
                      "rerun the same command once the jobs have ended to resume any that failed")
        return
    console.print(f"{manifest['entries']} entries → {out} (skipped {manifest['skipped']['count']})")
    _print_skipped(manifest)
    for name, rows in manifest["rows"].items():
        tok = manifest["tokens"]["counts"].get(name)
        typer.echo(f"{name:32} {rows:>9} rows" + (f" {tok:>12} tokens" if tok is not None else ""))


def _build_literature(subset: str, executor: str = "local", tasks: Optional[int] = None,
                      executor_opt: Optional[List[str]] = None, **kw) -> None:
    """Shared body of the literature build commands: build, then print the counts."""
    from proteinlm.dataset.engine.executors import ExecutorSpec
    from proteinlm.dataset.literature.pipeline import LiteratureOptions
    from proteinlm.dataset.literature.stages import run_build

    fmts = kw.pop("formats")
    opts = LiteratureOptions(subset=subset, formats=tuple(f.strip() for f in fmts.split(",") if f.strip()), **kw)
    try:
        spec = ExecutorSpec.from_cli(executor, tasks, executor_opt)
        if spec.type == "local":
            with _progress() as bar:
                task = bar.add_task(f"building {subset}", total=len(opts.inputs))
                manifest = run_build(opts, spec, progress=lambda n: bar.advance(task, n))
        else:  # datatrove logs its own progress
            manifest = run_build(opts, spec)
    except ProteinLMError as exc:
        _fail(exc)
    if manifest is None:
        console.print(f"submitted to {executor}: the last job writes {kw['out']}/manifest.json; "
                      "rerun the same command once the jobs have ended to resume any that failed")
        return
    tok = manifest["tokens"]
    console.print(f"{manifest['documents']} documents → {kw['out']} (skipped {manifest['skipped']['count']})")
    _print_skipped(manifest)
    if "versions" in manifest:  # PubMed: each PMID's last event (later versions win, deletions remove)
        v = manifest["versions"]
        typer.echo(f"{'versions':16} citations {v['citations']} superseded {v['superseded']} deleted {v['deleted']}"
                   f" (deletions of unread PMIDs {v['deleted_unknown']}) → {v['kept']} PMIDs kept")
    for s in manifest["steps"]:
        typer.echo(f"{s['name']:16} in {s['in']:>9} out {s['out']:>9} dropped {s['dropped']:>7}")
    typer.echo(f"{subset:16} {manifest['documents']:>9} documents"
               + (f" {tok['count']:>12} tokens ({tok['tokenizer']})" if tok["count"] is not None else ""))


_LIT_OUT = typer.Option(..., "--out", help="Build directory (a killed build resumes here).")
_LIT_WORKERS = typer.Option(1, "--workers", help="Processes parsing input files in parallel (same output).")
_LIT_SHARD = typer.Option(10000, "--shard-docs", help="Documents per shard (and per resumable unit).")
_LIT_MIN = typer.Option(200, "--min-chars", help="Drop documents shorter than this (characters).")
_LIT_NEAR = typer.Option(True, "--near-dedup/--no-near-dedup", help="MinHash near-duplicate removal.")
_LIT_TOK = typer.Option("smollm2", "--tokenizer", help="Tokenizer for token counts: smollm2, a local dir, or none.")
_LIT_FMT = typer.Option("jsonl.gz,parquet", "--formats", help="Comma-separated: jsonl.gz, parquet.")
_LIT_EXEC = typer.Option("local", "--executor", help="local (processes) | datatrove-local | slurm | ray (datatrove; same output).")
_LIT_TASKS = typer.Option(None, "--tasks", help="datatrove tasks per parallel stage (default: one per input file).")
_LIT_EXEC_OPT = typer.Option(None, "--executor-opt", help="KEY=VALUE for the datatrove executor, e.g. partition=cpu, "
                             "time=04:00:00, logging_dir=...; merge.KEY=VALUE for the one-task stages. Repeatable.")


@build_app.command("pubmed")
def build_pubmed_cmd(
    inputs: List[str] = typer.Option(..., "--input", "-i", help="PubMed XML (gzip ok), baseline then updates; repeatable."),
    more_inputs: Optional[List[str]] = _MORE_INPUTS,
    out: Path = _LIT_OUT, workers: int = _LIT_WORKERS, shard_docs: int = _LIT_SHARD, min_chars: int = _LIT_MIN,
    near_dedup: bool = _LIT_NEAR, tokenizer: str = _LIT_TOK, formats: str = _LIT_FMT,
    executor: str = _LIT_EXEC, tasks: Optional[int] = _LIT_TASKS, executor_opt: Optional[List[str]] = _LIT_EXEC_OPT,
    allow_empty: bool = _ALLOW_EMPTY,
):
    """PubMed abstracts → pretraining documents (later versions win, deleted citations dropped)."""
    _build_literature("pubmed", inputs=_all_inputs(inputs, more_inputs), out=str(out), workers=workers, shard_docs=shard_docs,
                      min_chars=min_chars, near_dedup=near_dedup, tokenizer=tokenizer, formats=formats,
                      executor=executor, tasks=tasks, executor_opt=executor_opt,
                      allow_empty=allow_empty)


@build_app.command("pmc")
def build_pmc_cmd(
    inputs: List[str] = typer.Option(..., "--input", "-i", help="PMC JATS .nxml/.xml(.gz) or .tar.gz package; repeatable."),
    more_inputs: Optional[List[str]] = _MORE_INPUTS,
    pdb_pubmed: Optional[List[str]] = typer.Option(None, "--pdb-pubmed", help="SIFTS pdb_pubmed.csv: PMIDs cited by PDB entries."),
    pmc_ids: Optional[List[str]] = typer.Option(None, "--pmc-ids", help="NCBI PMC-ids.csv(.gz): PMID → PMCID."),
    all_articles: bool = typer.Option(False, "--all-articles", help="Keep every article, not only PDB-cited ones."),
    out: Path = _LIT_OUT, workers: int = _LIT_WORKERS, shard_docs: int = _LIT_SHARD, min_chars: int = _LIT_MIN,
    near_dedup: bool = _LIT_NEAR, tokenizer: str = _LIT_TOK, formats: str = _LIT_FMT,
    executor: str = _LIT_EXEC, tasks: Optional[int] = _LIT_TASKS, executor_opt: Optional[List[str]] = _LIT_EXEC_OPT,
    allow_empty: bool = _ALLOW_EMPTY,
):
    """PMC full texts of articles cited by PDB entries → pretraining documents."""
    _build_literature("pmc", inputs=_all_inputs(inputs, more_inputs), pdb_pubmed=list(pdb_pubmed or []), pmc_ids=list(pmc_ids or []),
                      all_articles=all_articles, out=str(out), workers=workers, shard_docs=shard_docs,
                      min_chars=min_chars, near_dedup=near_dedup, tokenizer=tokenizer, formats=formats,
                      executor=executor, tasks=tasks, executor_opt=executor_opt,
                      allow_empty=allow_empty)


@build_app.command("seq-in-text")
def build_seq_in_text_cmd(
    pubmed: List[str] = typer.Option(..., "--pubmed", help="PubMed XML (gzip ok); repeatable."),
    uniprot: List[str] = typer.Option(..., "--uniprot", help="Swiss-Prot flat file/XML/TSV for the name index; repeatable."),
    max_proteins: int = typer.Option(1, "--max-proteins", help="Sequences inserted per abstract."),
    out: Path = _LIT_OUT, workers: int = _LIT_WORKERS, shard_docs: int = _LIT_SHARD, min_chars: int = _LIT_MIN,
    near_dedup: bool = _LIT_NEAR, tokenizer: str = _LIT_TOK, formats: str = _LIT_FMT,
    executor: str = _LIT_EXEC, tasks: Optional[int] = _LIT_TASKS, executor_opt: Optional[List[str]] = _LIT_EXEC_OPT,
    allow_empty: bool = _ALLOW_EMPTY,
):
    """Abstracts with the sequence of a mentioned protein inserted after its first mention."""
    _build_literature("seq_in_text", inputs=pubmed, uniprot=uniprot, max_proteins=max_proteins, out=str(out),
                      workers=workers, shard_docs=shard_docs, min_chars=min_chars, near_dedup=near_dedup,
                      tokenizer=tokenizer, formats=formats, executor=executor, tasks=tasks, executor_opt=executor_opt,
                      allow_empty=allow_empty)


@build_app.command("bilingual")
def build_bilingual_cmd(
    inputs: List[str] = typer.Option(..., "--input", "-i", help="JSONL {zh, en} or TSV id<TAB>zh<TAB>en; repeatable."),
    more_inputs: Optional[List[str]] = _MORE_INPUTS,
    pair_layout: str = typer.Option("joined", "--pair-layout", help="joined: one 'zh\\n\\nen' document; separate: two."),
    out: Path = _LIT_OUT, workers: int = _LIT_WORKERS, shard_docs: int = _LIT_SHARD, min_chars: int = _LIT_MIN,
    near_dedup: bool = _LIT_NEAR, tokenizer: str = _LIT_TOK, formats: str = _LIT_FMT,
    executor: str = _LIT_EXEC, tasks: Optional[int] = _LIT_TASKS, executor_opt: Optional[List[str]] = _LIT_EXEC_OPT,
    allow_empty: bool = _ALLOW_EMPTY,
):
    """Chinese/English abstract pairs → pretraining documents."""
    _build_literature("bilingual", inputs=_all_inputs(inputs, more_inputs), pair_layout=pair_layout, out=str(out), workers=workers,
                      shard_docs=shard_docs, min_chars=min_chars, near_dedup=near_dedup, tokenizer=tokenizer,
                      formats=formats, executor=executor, tasks=tasks, executor_opt=executor_opt,
                      allow_empty=allow_empty)


@build_app.command("pack")
def build_pack_cmd(
    subset_dirs: List[str] = typer.Option(..., "--subset-dir", help="Build directory holding pretrain/*/train-*.jsonl.gz; repeatable."),
    out: Path = typer.Option(..., "--out", help="Writes OUT/packed/ (tokens.bin, doc_index.npy, pack.json)."),
    seq_len: int = typer.Option(2048, "--seq-len", help="Tokens per packed row."),
    tokenizer: str = typer.Option("smollm2", "--tokenizer", help="smollm2 or a local tokenizer dir."),
):
    """Tokenise and pack documents into fixed-length rows (EOS between documents)."""
    from proteinlm.dataset.steps.pack import pack_subsets

    try:
        stats = pack_subsets(subset_dirs, out, seq_len=seq_len, tokenizer=tokenizer)
    except ProteinLMError as exc:
        _fail(exc)
    typer.echo(f"{stats['documents']} documents, {stats['tokens']} tokens → {stats['rows']} rows of {seq_len} in {stats['dir']}")


@build_app.command("decontaminate")
def build_decontaminate_cmd(
    builds: List[str] = typer.Option(..., "--build", help="Build directory (pretrain/ and sft/ shards); repeatable."),
    benches: List[str] = typer.Option(..., "--bench", help="Benchmark: JSON/JSONL/CSV file or `sample`; repeatable."),
    provenance: Optional[List[str]] = typer.Option(None, "--provenance", help="benchgen from-papers provenance.jsonl: "
                                                   "drop the source articles of its questions; repeatable."),
    ngram: int = typer.Option(13, "--ngram", help="Words per n-gram (normalised text)."),
    mode: str = typer.Option("report", "--mode", help="report | drop (writes OUT/<build>/ without contaminated documents)."),
    workers: int = typer.Option(1, "--workers", help="Processes scanning shards in parallel (same report)."),
    out: Path = typer.Option(..., "--out", help="Writes OUT/decontamination.json (a killed run resumes here)."),
    executor: str = _LIT_EXEC, tasks: Optional[int] = typer.Option(None, "--tasks", help="datatrove tasks (default: one per shard)."),
    executor_opt: Optional[List[str]] = typer.Option(None, "--executor-opt", help="KEY=VALUE for the datatrove executor, "
                                                     "e.g. partition=cpu, time=04:00:00, logging_dir=...; repeatable."),
):
    """Benchmark questions found in a build's documents (n-gram overlap), per question and subset."""
    from proteinlm.dataset.decontaminate.executors import run_decontaminate
    from proteinlm.dataset.decontaminate.report import summary
    from proteinlm.dataset.decontaminate.run import DecontaminateOptions
    from proteinlm.dataset.engine.executors import ExecutorSpec

    opts = DecontaminateOptions(builds=list(builds), benches=list(benches), provenance=list(provenance or []),
                                ngram=ngram, mode=mode, workers=workers, out=str(out))
    try:
        spec = ExecutorSpec.from_cli(executor, tasks, executor_opt)
        with _progress() as bar:
            task = bar.add_task("scanning shards", total=None)
            report = run_decontaminate(opts, spec, progress=lambda n: bar.advance(task, n))
    except ProteinLMError as exc:
        _fail(exc)
    if report is None:
        console.print(f"submitted to {executor}: rerun the same command once the jobs have ended to merge the report")
        return
    typer.echo(summary(report), nl=False)
    dropped = f"; builds without them in {', '.join(b['out'] for b in report['builds'])}" if mode == "drop" else ""
    console.print(f"report → {out / 'decontamination.json'}{dropped}")


@build_app.command("all")
def build_all_cmd(
    config: Path = typer.Option(..., "--config", help="build.yaml listing the inputs of each subset."),
    out: Path = typer.Option(..., "--out", help="Writes OUT/<subset>/, OUT/packed/, OUT/token_table.md, OUT/manifest.json."),
    workers: int = typer.Option(1, "--workers", help="Processes per subset build (same output)."),
    tokenizer: str = typer.Option("smollm2", "--tokenizer", help="Tokenizer for token counts and packing: smollm2, a local dir, or none."),
):
    """Every subset of a YAML config, then packing and the token table."""
    from proteinlm.dataset.build_all import build_all, token_table

    try:
        manifest = build_all(config, out, workers=workers, tokenizer=tokenizer,
                             progress=lambda s: console.print(f"building [bold]{s}[/]"))
    except ProteinLMError as exc:
        _fail(exc)
    if manifest.get("submitted"):
        console.print(f"submitted {', '.join(manifest['submitted'])} to {manifest['executor']}; rerun this command "
                      "once the jobs have ended to pack and write the token table")
        return
    typer.echo(token_table(manifest), nl=False)


if __name__ == "__main__":  # pragma: no cover
    app()
