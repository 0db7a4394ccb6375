"""`proteinlm build all`: every subset a YAML config names (the UniProt and literature pipelines),
then decontamination when configured, all on the configured executor, then packing, the token
table and OUT/manifest.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from proteinlm.dataset.steps.pack import pack_subsets
from proteinlm.errors import ProteinLMError


def _paths(base: Path, value) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for v in items:
        p = Path(str(v)) if Path(str(v)).is_absolute() else (base / str(v)).resolve()
        # a directory stands for its files, sorted (e.g. a folder of PMC .nxml files)
        out += [str(f) for f in sorted(p.iterdir()) if f.is_file()] if p.is_dir() else [str(p)]
    return out


def build_all(config: str | Path, out: str | Path, *, workers: int = 1, tokenizer: str = "smollm2",
              progress: Callable[[str], None] | None = None) -> dict:
    """Every subset the YAML names into OUT/<subset>, then OUT/packed, OUT/token_table.md and
    OUT/manifest.json. Relative paths in the YAML are relative to the YAML file. An `executor:`
    section runs the literature subsets on datatrove (see `executors.ExecutorSpec.from_config`);
    on Slurm this returns {"submitted": [subsets]} and a rerun after the jobs packs and tabulates."""
    import yaml

    from proteinlm.dataset.engine.executors import ExecutorSpec
    from proteinlm.dataset.literature.pipeline import LiteratureOptions
    from proteinlm.dataset.literature.stages import run_build
    from proteinlm.dataset.steps.writers import file_info

    config = Path(config)
    try:
        cfg = yaml.safe_load(config.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProteinLMError(f"{config}: cannot read the build config: {exc}") from exc
    base, out = config.parent, Path(out)
    unknown = set(cfg) - {"uniprot", "pubmed", "pmc", "seq_in_text", "bilingual", "decontaminate", "pack", "options", "executor"}
    if unknown:
        raise ProteinLMError(f"{config}: unknown sections {sorted(unknown)}")
    spec = ExecutorSpec.from_config(cfg.get("executor"))  # every subset runs on it
    pending: list[str] = []
    common = cfg.get("options") or {}
    table: dict[str, dict] = {}
    dirs: list[str] = []
    if "uniprot" in cfg:
        from proteinlm.dataset.uniprot.options import UniprotBuildOptions
        from proteinlm.dataset.uniprot.stages import run_build as run_uniprot

        u = cfg["uniprot"] or {}
        if progress:
            progress("uniprot")
        m = run_uniprot(UniprotBuildOptions(inputs=_paths(base, u.get("inputs")), out=str(out / "uniprot"),
                                            enzyme=_paths(base, u.get("enzyme")), workers=workers, tokenizer=tokenizer,
                                            allow_empty=bool(dict(common, **u).get("allow_empty", False))), spec)
        if m is None:  # handed to Slurm, like the literature subsets below
            pending.append("uniprot")
        else:
            table["swissprot"] = {"documents": m["rows"].get("pretrain/swissprot/train", 0),
                                  "tokens": m["tokens"]["counts"].get("pretrain/swissprot/train"), "dir": "uniprot"}
            dirs.append(str(out / "uniprot"))
    for subset in ("pubmed", "pmc", "seq_in_text", "bilingual"):
        if subset not in cfg:
            continue
        c = dict(common, **(cfg[subset] or {}))
        kw = {k: c[k] for k in ("min_chars", "near_dedup", "shard_docs", "all_articles", "pair_layout", "max_proteins",
                                "allow_empty") if k in c}
        inputs = _paths(base, c.get("pubmed" if subset == "seq_in_text" else "inputs"))
        opts = LiteratureOptions(subset=subset, inputs=inputs, out=str(out / subset), workers=workers,
                                 tokenizer=tokenizer, pdb_pubmed=_paths(base, c.get("pdb_pubmed")),
                                 pmc_ids=_paths(base, c.get("pmc_ids")), uniprot=_paths(base, c.get("uniprot")), **kw)
        if progress:
            progress(subset)
        m = run_build(opts, spec)
        if m is None:  # handed to Slurm: packing and the table wait for a rerun once the jobs end
            pending.append(subset)
            continue
        table[subset] = {"documents": m["documents"], "tokens": m["tokens"]["count"], "dir": subset}
        dirs.append(str(out / subset))
    if pending:
        return {"builder": "all", "submitted": pending, "executor": spec.type}
    decontamination = None
    if "decontaminate" in cfg:  # after the subsets, before packing: drop mode packs the filtered copies
        from proteinlm.dataset.decontaminate.executors import decontaminate_step

        if progress:
            progress("decontaminate")
        step = decontaminate_step(cfg["decontaminate"] or {}, base, dirs, out, workers, spec)
        if step is None:  # the scans were handed to Slurm: packing and the table wait for a rerun
            return {"builder": "all", "submitted": ["decontaminate"], "executor": spec.type}
        decontamination, dirs = step
    packed = None
    if "pack" in cfg and tokenizer != "none":
        if progress:
            progress("pack")
        packed = pack_subsets(dirs, out, seq_len=int((cfg["pack"] or {}).get("seq_len", 2048)), tokenizer=tokenizer)
        packed["subset_dirs"] = [str(Path(d).relative_to(out)) for d in dirs]
        packed["dir"] = "packed"
    tok_name = "SmolLM2-135M-Instruct" if tokenizer == "smollm2" else (None if tokenizer == "none" else tokenizer)
    totals = {"documents": sum(r["documents"] for r in table.values()),
              "tokens": None if tok_name is None else sum(r["tokens"] or 0 for r in table.values())}
    manifest = {"builder": "all", "config": file_info(config), "tokenizer": tok_name, "subsets": table,
                "total": totals, "packed": packed}
    if decontamination is not None:
        manifest["decontamination"] = decontamination
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    (out / "token_table.md").write_text(token_table(manifest))
    return manifest


def token_table(manifest: dict) -> str:
    lines = [f"| subset | documents | tokens ({manifest['tokenizer'] or 'not counted'}) |", "|---|---:|---:|"]
    rows = list(manifest["subsets"].items()) + [("**total**", manifest["total"])]
    for name, r in rows:
        tok = "-" if r["tokens"] is None else f"{r['tokens']:,}"
        lines.append(f"| {name} | {r['documents']:,} | {tok} |")
    if manifest.get("decontamination"):
        d = manifest["decontamination"]
        lines.append("")
        lines.append(f"Decontamination ({d['ngram']}-grams, {d['mode']}): {d['contaminated_questions']} of {d['questions']} "
                     f"questions found in {d['contaminated_documents']:,} documents; report in {d['dir']}/")
    if manifest.get("packed"):
        p = manifest["packed"]
        lines.append("")
        lines.append(f"Packed: {p['rows']:,} rows of {p['seq_len']} tokens ({p['tokens']:,} tokens incl. EOS, "
                     f"{p['padding']} padding) in {p['dir']}/")
    return "\n".join(lines) + "\n"
