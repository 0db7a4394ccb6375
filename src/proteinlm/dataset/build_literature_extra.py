"""Helpers of the literature builds (see `build_literature`): PMC selection through SIFTS and
NCBI's PMC-ids.csv, the seq-in-text index kept in the build dir, bilingual pair files, packing,
and `build all` from a YAML config with its token table.

Bilingual layout: "joined" (default) writes one document per pair, the Chinese abstract, a blank
line, then the English abstract ("zh\\n\\nen"), id `bilingual-<pair id>`; "separate" writes two
documents, `bilingual-<pair id>-zh` and `-en`. Pair ids come from the record's `id` (JSONL) or
first column (TSV), else `<file name>:<line>`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Callable, Iterator

from proteinlm.errors import ProteinLMError, RecordError, SourceError
from proteinlm.records import Document

_PAIR_KEYS = (("zh", "en"), ("chinese", "english"), ("zh_abstract", "en_abstract"))


# ------------------------------------------------------------------------------- pmc
def _text_lines(path: str) -> io.TextIOBase:
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="") if gz else open(
        path, encoding="utf-8", newline=""
    )


def pmc_selection(pdb_pubmed: list[str], pmc_ids: list[str], skipped: list[str]) -> tuple[set[str], dict]:
    """PMIDs cited by PDB entries (SIFTS), mapped to PMCIDs through PMC-ids.csv: the set holds
    both the PMCIDs and the PMIDs, so an article matches by either."""
    from proteinlm.sources.sifts import parse_pdb_pubmed

    pmids = {pmid for path in pdb_pubmed for _, _, pmid in parse_pdb_pubmed(path, on_error=lambda e: skipped.append(str(e)))}
    keep: set[str] = set(pmids)
    mapped = 0
    for path in pmc_ids:
        try:
            with _text_lines(path) as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or "PMCID" not in reader.fieldnames or "PMID" not in reader.fieldnames:
                    raise SourceError(f"{path}: not a PMC-ids.csv (no PMCID/PMID columns in the header)")
                for row in reader:
                    pmid = (row.get("PMID") or "").strip()
                    pmcid = (row.get("PMCID") or "").strip()
                    if pmid in pmids and pmcid:
                        keep.add(pmcid)
                        mapped += 1
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
            raise SourceError(f"{path}: cannot read (truncated or corrupt?): {exc}") from exc
    return keep, {"pdb_cited_pmids": len(pmids), "pmcids_mapped": mapped}


# ------------------------------------------------------------------------------- seq_in_text
def ensure_index(uniprot: list[str], out: Path, skipped: list[str]) -> tuple[str, dict]:
    """The SQLite name/sequence index at OUT/seq_index.sqlite, rebuilt unless its record
    (OUT/seq_index.json) lists the same UniProt inputs with the same hashes."""
    from proteinlm.dataset.pretrain.seq_in_text import build_index
    from proteinlm.dataset.steps.writers import file_info
    from proteinlm.sources import uniprot as uniprot_source

    if not uniprot:
        raise ProteinLMError("seq-in-text needs --uniprot (Swiss-Prot) inputs")
    db, record = out / "seq_index.sqlite", out / "seq_index.json"
    inputs = [file_info(Path(p)) for p in uniprot]
    if db.is_file() and record.is_file():
        saved = json.loads(record.read_text())
        if [(i["bytes"], i["sha256"]) for i in saved["inputs"]] == [(i["bytes"], i["sha256"]) for i in inputs]:
            return str(db), dict(saved["stats"], reused=True)

    def entries():
        for p in uniprot:
            yield from uniprot_source.parse(p, on_error=lambda e: skipped.append(str(e)))

    stats = build_index(entries(), db).__dict__.copy()
    record.write_text(json.dumps({"inputs": inputs, "stats": stats}, indent=2) + "\n")
    return str(db), dict(stats, reused=False)


# ------------------------------------------------------------------------------- bilingual
def _pairs(path: str, on_error: Callable) -> Iterator[tuple[str, str, str, str]]:
    """(pair id, zh, en, location) from a JSONL or a TSV (`id\\tzh\\ten` with a header)."""
    name = Path(path).name
    try:
        with _text_lines(path) as fh:
            first = fh.readline()
            if first.lstrip().startswith("{"):
                lines = [(1, first), *((n, l) for n, l in enumerate(fh, start=2))]
                for n, line in lines:
                    if not line.strip():
                        continue
                    where = f"{path}:{n}"
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        on_error(RecordError(f"{where}: not JSON: {exc}"))
                        continue
                    zh = en = None
                    for kz, ke in _PAIR_KEYS:
                        if isinstance(rec, dict) and kz in rec and ke in rec:
                            zh, en = rec[kz], rec[ke]
                            break
                    if not isinstance(zh, str) or not isinstance(en, str) or not zh.strip() or not en.strip():
                        on_error(RecordError(f"{where}: no Chinese/English pair (keys zh/en, chinese/english or zh_abstract/en_abstract)"))
                        continue
                    yield str(rec.get("id") or f"{name}:{n}"), zh, en, where
            else:
                reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
                for n, row in enumerate(reader, start=2):
                    where = f"{path}:{n}"
                    if len(row) != 3 or not row[1].strip() or not row[2].strip():
                        if row:
                            on_error(RecordError(f"{where}: expected 3 tab-separated columns id, zh, en"))
                        continue
                    yield row[0].strip() or f"{name}:{n}", row[1], row[2], where
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read (truncated or corrupt?): {exc}") from exc


def bilingual_documents(path: str, layout: str, on_error: Callable, counts: dict) -> Iterator[Document]:
    for pid, zh, en, where in _pairs(path, on_error):
        counts["pairs"] = counts.get("pairs", 0) + 1
        base = {"pmid": None, "pmcid": None, "pair_id": pid}
        if layout == "joined":
            yield Document(f"bilingual-{pid}", f"{zh.strip()}\n\n{en.strip()}", "bilingual", dict(base, lang="zh+en"))
        else:
            yield Document(f"bilingual-{pid}-zh", zh.strip(), "bilingual", dict(base, lang="zh"))
            yield Document(f"bilingual-{pid}-en", en.strip(), "bilingual", dict(base, lang="en"))


# ------------------------------------------------------------------------------- pack
def eos_id(tokenizer) -> int:
    """`<|endoftext|>` (SmolLM2's document separator, id 0), else `<|im_end|>`."""
    for tok in ("<|endoftext|>", "<|im_end|>", "</s>"):
        i = tokenizer.token_to_id(tok)
        if i is not None:
            return i
    raise ProteinLMError("the tokenizer has no <|endoftext|> / <|im_end|> token to end documents with")


def pack_subsets(subset_dirs: list[str], out: str | Path, *, seq_len: int = 2048, tokenizer: str = "smollm2") -> dict:
    """Pack the train shards of `subset_dirs` (in the order given) into OUT/packed/."""
    from dataclasses import asdict

    from proteinlm.dataset.steps.pack import pack_documents
    from proteinlm.dataset.steps.tokens import TokenCounter
    from proteinlm.dataset.steps.writers import iter_texts

    counter = TokenCounter(tokenizer)
    if counter.tokenizer is None:
        raise ProteinLMError("packing needs a tokenizer (not `none`)")
    for d in subset_dirs:
        if not Path(d).is_dir():
            raise ProteinLMError(f"{d}: no such build directory")
    target = Path(out) / "packed"
    stats = pack_documents(iter_texts(subset_dirs), counter.tokenizer, target, seq_len=seq_len,
                           eos_id=eos_id(counter.tokenizer), tokenizer_name=counter.name)
    return asdict(stats) | {"subset_dirs": [str(d) for d in subset_dirs], "dir": str(target)}


# ------------------------------------------------------------------------------- all
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

    from proteinlm.dataset.build_literature import LiteratureOptions
    from proteinlm.dataset.executors import ExecutorSpec, run_build
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
    spec = ExecutorSpec.from_config(cfg.get("executor"))  # literature subsets only; uniprot runs here
    pending: list[str] = []
    common = cfg.get("options") or {}
    table: dict[str, dict] = {}
    dirs: list[str] = []
    if "uniprot" in cfg:
        from proteinlm.dataset.uniprot.pipeline import UniprotBuildOptions, build_uniprot

        u = cfg["uniprot"] or {}
        if progress:
            progress("uniprot")
        m = build_uniprot(UniprotBuildOptions(inputs=_paths(base, u.get("inputs")), out=str(out / "uniprot"),
                                              enzyme=_paths(base, u.get("enzyme")), workers=workers, tokenizer=tokenizer,
                                              allow_empty=bool(dict(common, **u).get("allow_empty", False))))
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
        from proteinlm.dataset.decontaminate import decontaminate_step

        if progress:
            progress("decontaminate")
        decontamination, dirs = decontaminate_step(cfg["decontaminate"] or {}, base, dirs, out, workers)
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
