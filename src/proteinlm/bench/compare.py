"""Finished runs, read back for comparison: their `summary.json` files and one flat row of
numbers per run (and per extraction: a run scored with the published evaluator's rule has a
second row, the faithful extraction of the same replies).

Only summary files are read, so runs from any machine or backend can be compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

from proteinlm.bench.scoring import wilson_interval
from proteinlm.errors import RunError

REQUIRED_KEYS = ("model", "method", "n", "correct")
SAME_REPLIES = "faithful, same replies"  # the extract label of a published run's second row


def _summary_path(run_dir: Path) -> Path:
    return run_dir if run_dir.name == "summary.json" and run_dir.is_file() else run_dir / "summary.json"


def load_summaries(run_dirs: str | Path | Iterable[str | Path]) -> list[dict[str, Any]]:
    """Read `summary.json` from each run directory (a path to the file itself is accepted too)."""
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise RunError("no run directories given")
    summaries = []
    for run_dir in run_dirs:
        path = _summary_path(run_dir)
        if not path.is_file():
            what = "does not exist" if not run_dir.exists() else "has no summary.json (did the run finish?)"
            raise RunError(f"run directory {run_dir}: {what}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"run directory {run_dir}: cannot read {path.name}: {exc}") from exc
        if not isinstance(data, dict):
            raise RunError(f"run directory {run_dir}: {path.name} is not a JSON object")
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise RunError(f"run directory {run_dir}: {path.name} lacks keys {missing}")
        data.setdefault("run_id", path.parent.resolve().name)
        data.setdefault("run_dir", str(path.parent))
        summaries.append(data)
    return summaries


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def run_labels(summaries: Sequence[dict]) -> list[str]:
    """Each run's label (`bench --label`, else its directory's name); repeats get "#2", "#3"."""
    labels = [str(s.get("label") or s.get("run_id") or "?") for s in summaries]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def model_name(s: dict) -> str:
    """The model's last path part, without a .gguf suffix."""
    return str(s.get("model", "?")).rstrip("/").split("/")[-1].removesuffix(".gguf")


def _ci(entry: dict) -> tuple[float, float]:
    ci = entry.get("ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return (float(ci[0]), float(ci[1]))
    return wilson_interval(int(entry["correct"]), int(entry["n"]))


def _numbers(entry: dict) -> dict[str, Any]:
    """Accuracy, interval and parse counts of a summary (or of its faithful_same_replies part)."""
    n, correct = int(entry["n"]), int(entry["correct"])
    acc = float(entry["accuracy"]) if entry.get("accuracy") is not None else (correct / n if n else 0.0)
    lo, hi = _ci(entry)
    return {
        "n": n,
        "correct": correct,
        "accuracy": acc,
        "ci_lo": lo,
        "ci_hi": hi,
        "accuracy_text": f"{pct(acc)}% [{pct(lo)}–{pct(hi)}]",
        "parsed": entry.get("parsed"),
        "unparsed": entry.get("unparsed"),
        "abstained": entry.get("abstained"),
        "pua_text": "/".join(str(entry.get(k, "–")) for k in ("parsed", "unparsed", "abstained")),
    }


def comparison_rows(summaries: Sequence[dict]) -> list[dict[str, Any]]:
    """One flat row per run with the numbers every table and the chart show; a run scored with
    `--extract published` is followed by a row for the faithful extraction of the same replies."""
    rows = []
    for s, label in zip(summaries, run_labels(summaries)):
        qps = s.get("questions_per_s")
        chance = s.get("chance")
        method = str(s.get("method", "?"))
        extract = s.get("extract") or ("faithful" if method == "generate" else "")
        row = {
            "run": str(s.get("run_id", "?")),
            "label": label,
            "model": str(s.get("model", "?")),
            "model_name": model_name(s),
            "backend": str(s.get("backend", "?")),
            "method": method,
            "extract": extract,
            "prompt": str(s.get("prompt_format", "?")),
            "bench": (s.get("bench") or {}).get("name"),
            **_numbers(s),
            "chance": chance,
            "chance_text": "–" if chance is None else f"{pct(float(chance))}%",
            "questions_per_s": qps,
            "qps_text": "–" if qps is None else f"{float(qps):.2f}",
            "per_option_count": s.get("per_option_count") or {},
            "per_category": s.get("per_category") or {},
        }
        rows.append(row)
        again = s.get("faithful_same_replies")
        if isinstance(again, dict) and "n" in again and "correct" in again:
            rows.append(row | _numbers(again) | {
                "extract": SAME_REPLIES, "questions_per_s": None, "qps_text": "–", "per_category": {},
                "per_option_count": {},
            })
    return rows


def method_text(row: dict) -> str:
    """"loglik", or "generate/published" where the extraction is not the faithful default."""
    extract = row["extract"]
    return row["method"] if extract in ("", "faithful") else f"{row['method']}/{extract}"
