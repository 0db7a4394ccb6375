"""The merge of per-shard decontamination results (run.py): the report per question and
per subset, the on-screen table, and in drop mode the manifests of the builds written without
their contaminated documents.

`plan` is a run.Plan (not imported here: the arrows point from the run to its report).
"""

from __future__ import annotations

import json
from pathlib import Path

NGRAM_NOTE = "a document is contaminated when it holds one n-gram of a question"
DOCS_LISTED = 1000  # per question in the report; the count is always whole


def _doc_ref(plan, result: dict, c: dict) -> dict:
    return {"id": c["id"], "build": plan.opts.builds[result["build"]], "shard": result["shard"], "row": c["row"]}


def build_tokens(build: str, subset: str) -> tuple[int | None, str | None]:
    """(tokens, tokenizer) of a subset ("pretrain/pubmed") as its build's manifest counted them, if it did."""
    try:
        manifest = json.loads((Path(build) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None, None
    tokens = manifest.get("tokens") or {}
    if "counts" in tokens:  # build uniprot: per "<kind>/<subset>/<split>"
        found = [n for k, n in tokens["counts"].items() if k.rsplit("/", 1)[0] == subset and n is not None]
        return (sum(found) if found else None), tokens.get("tokenizer")
    if tokens.get("count") is not None and subset == f"pretrain/{manifest.get('subset')}":  # literature builds
        return tokens["count"], tokens.get("tokenizer")
    return None, None


def build_report(plan, results: list[dict]) -> dict:
    """Per question: contaminated or not, which documents, how many of its n-grams were found; per
    subset: documents and words scanned, contaminated, dropped; the source documents of generated
    questions (provenance)."""
    from proteinlm.dataset.decontaminate.ngrams import NORMALISATION

    n_q = len(plan.questions)
    found: list[set[int]] = [set() for _ in range(n_q)]
    docs: list[list[dict]] = [[] for _ in range(n_q)]
    subsets: dict[str, dict] = {}
    where: dict[str, int] = {}  # subset key → build index
    sources: list[dict] = []
    for r in results:
        key = f"{plan.names[r['build']]}/{r['subset']}"
        where[key] = r["build"]
        s = subsets.setdefault(key, {"shards": 0, "documents": 0, "words": 0, "contaminated": 0,
                                     "contaminated_words": 0, "by_ngram": 0, "by_provenance": 0})
        s["shards"] += 1
        s["documents"] += r["documents"]
        s["words"] += r["words"]
        for q, grams in r["grams"].items():
            found[int(q)].update(grams)
        for c in r["contaminated"]:
            s["contaminated"] += 1
            s["contaminated_words"] += c["words"]
            s["by_ngram"] += bool(c["questions"])
            s["by_provenance"] += bool(c["sources"])
            for q, n in c["questions"].items():
                docs[int(q)].append(dict(_doc_ref(plan, r, c), ngrams=n))
            if c["sources"]:
                sources.append(dict(_doc_ref(plan, r, c), questions=c["sources"]))
    questions = []
    for q, meta in enumerate(plan.questions):
        total = plan.bench.per_question[q]
        questions.append(dict(meta, checked=total > 0, contaminated=bool(docs[q]), ngrams=total,
                              ngrams_matched=len(found[q]),
                              fraction=round(len(found[q]) / total, 4) if total else None,
                              documents_total=len(docs[q]), documents=docs[q][:DOCS_LISTED]))
    for key, s in subsets.items():
        s["tokens_in_build"], s["tokenizer"] = build_tokens(plan.opts.builds[where[key]], key.split("/", 1)[1])
        s["fraction_contaminated"] = round(s["contaminated"] / s["documents"], 6) if s["documents"] else 0.0
    if plan.opts.mode == "drop":
        for s in subsets.values():
            s["dropped"] = s["contaminated"]
            s["kept"] = s["documents"] - s["contaminated"]
    per_bench: dict[str, dict] = {}
    for q in questions:
        b = per_bench.setdefault(q["bench"], {"questions": 0, "checked": 0, "contaminated": 0})
        b["questions"] += 1
        b["checked"] += q["checked"]
        b["contaminated"] += q["contaminated"]
    return {
        "ngram": plan.opts.ngram, "normalisation": NORMALISATION, "rule": NGRAM_NOTE, "mode": plan.opts.mode,
        "benches": [dict(b, **per_bench.get(b["name"], {})) for b in plan.sources["benches"]],
        "provenance": plan.sources["provenance"],
        "builds": [{"dir": d, "out": o} for d, o in zip(plan.opts.builds, plan.drop_dirs)],
        "bench_ngrams": len(plan.bench.grams),
        "totals": {"questions": len(questions), "checked": sum(q["checked"] for q in questions),
                   "contaminated_questions": sum(q["contaminated"] for q in questions),
                   "documents": sum(s["documents"] for s in subsets.values()),
                   "contaminated_documents": sum(s["contaminated"] for s in subsets.values())},
        "subsets": subsets,
        "questions": questions,
        "source_documents": sources,
    }


def summary(report: dict, limit: int = 20) -> str:
    """The report as plain-text tables: subsets, then the contaminated questions (first `limit`)."""
    lines = [f"{'subset':40} {'documents':>10} {'words':>12} {'contaminated':>12} {'by n-gram':>9} {'by source':>9}"]
    for name, s in report["subsets"].items():
        lines.append(f"{name:40} {s['documents']:>10,} {s['words']:>12,} {s['contaminated']:>12,} "
                     f"{s['by_ngram']:>9,} {s['by_provenance']:>9,}")
    t = report["totals"]
    lines.append(f"{'total':40} {t['documents']:>10,} {'':>12} {t['contaminated_documents']:>12,}")
    if report["mode"] == "drop":
        by = [sum(s[k] for s in report["subsets"].values()) for k in ("by_ngram", "by_provenance")]
        lines.append(f"dropped {t['contaminated_documents']:,} documents (holding a question's n-gram: {by[0]:,}; "
                     f"source article of a generated question: {by[1]:,}), kept {t['documents'] - t['contaminated_documents']:,}")
    lines.append("")
    lines.append(f"{t['contaminated_questions']} of {t['questions']} questions contaminated ({report['ngram']}-grams; "
                 f"{t['questions'] - t['checked']} too short to check: no field of {report['ngram']} words)")
    hit = [q for q in report["questions"] if q["contaminated"]]
    if hit:
        lines.append(f"{'bench':16} {'question':24} {'n-grams':>9} {'fraction':>8} {'documents':>9}  first document")
        for q in hit[:limit]:
            d = q["documents"][0]
            lines.append(f"{q['bench'][:16]:16} {str(q['id'])[:24]:24} {q['ngrams_matched']:>4}/{q['ngrams']:<4} "
                         f"{q['fraction']:>8.2f} {q['documents_total']:>9}  {d['id']} ({d['shard']})")
        if len(hit) > limit:
            lines.append(f"... and {len(hit) - limit} more in decontamination.json")
    if report["source_documents"]:
        lines.append(f"{len(report['source_documents'])} documents are source articles of generated questions (provenance)")
    return "\n".join(lines) + "\n"


def write_drop_manifests(plan, results: list[dict], report: dict) -> None:
    """OUT/<build>/manifest.json of each filtered build: the build's own manifest with its outputs
    and document/row counts updated, and a `decontamination` section listing every dropped
    document with its reason; SFT exports (sft/alpaca, sft/chat) rebuilt from the kept rows."""
    from proteinlm.dataset.steps.writers import output_info, write_bytes_atomic

    for b, (src, dst) in enumerate(zip(plan.opts.builds, plan.drop_dirs)):
        dst = Path(dst)
        dropped, per_split = [], {}
        for r in results:
            if r["build"] != b:
                continue
            split_key = f"{r['subset']}/{r['shard'].rsplit('/', 1)[1].split('-')[0]}"  # "pretrain/pubmed/train"
            for c in r["contaminated"]:
                reasons = (["ngram"] if c["questions"] else []) + (["provenance"] if c["sources"] else [])
                qs = [f"{plan.questions[int(q)]['bench']}:{plan.questions[int(q)]['id']}" for q in c["questions"]]
                dropped.append({"id": c["id"], "shard": r["shard"], "row": c["row"], "reasons": reasons,
                                "questions": qs, "source_of": c["sources"]})
                per_split[split_key] = per_split.get(split_key, 0) + 1
        if (Path(src) / "sft" / "alpaca").is_dir():
            _rebuild_exports(dst)
        manifest_path = Path(src) / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        if isinstance(manifest.get("documents"), int):  # literature builds
            manifest["documents"] -= len(dropped)
        if isinstance(manifest.get("rows"), dict):  # build uniprot: rows per "<kind>/<subset>/<split>"
            for k, n in per_split.items():
                if k in manifest["rows"]:
                    manifest["rows"][k] -= n
        if "outputs" in manifest or not manifest:
            files = sorted(p for kind in ("pretrain", "sft") for p in (dst / kind).rglob("*")
                           if p.is_file() and not p.name.startswith("."))
            manifest["outputs"] = [output_info(p, dst) for p in files]
        manifest["decontamination"] = {
            "source_build": str(src), "report": str(Path(plan.opts.out) / "decontamination.json"),
            "ngram": plan.opts.ngram, "benches": report["benches"], "provenance": report["provenance"],
            "note": "token counts are those of the build before the drop",
            "dropped_count": len(dropped), "dropped_per_split": per_split, "dropped": dropped,
        }
        write_bytes_atomic(dst / "manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())


def _rebuild_exports(dst: Path) -> None:
    from proteinlm.dataset.steps.sft_exports import SftExports, shard_rows
    from proteinlm.dataset.uniprot.chunks import SPLITS

    exports = SftExports(dst, SPLITS)
    exports.rebuild = True
    exports.finish(lambda split: shard_rows(dst, split))
