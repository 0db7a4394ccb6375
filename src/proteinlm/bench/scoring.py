"""Scoring: a backend's raw answer to one question becomes a prediction record, and the records
of a run become the numbers of its summary (accuracy with a Wilson interval, parse counts, and
accuracy beside chance level per category and per option count, since a 2-option and a 10-option
question are not the same test)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from proteinlm.bench.extract import extract_answer
from proteinlm.bench.prompts import PromptFormat
from proteinlm.bench.published import published_extract
from proteinlm.records import MCQ

Z95 = 1.959963984540054  # two-sided 95% normal quantile
EXTRACTIONS = ("faithful", "published")


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (what statsmodels calls method="wilson")."""
    if n <= 0:
        return (0.0, 0.0)
    if not 0 <= k <= n:
        raise ValueError(f"wilson_interval: need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def score(mcq: MCQ, answer: dict, fmt: PromptFormat, method: str, extract: str = "faithful") -> dict:
    """Turn a raw answer into a prediction record.

    With `extract="published"` the choice is the published evaluator's (first integer once the
    prompt is replaced out of the decoded text); the faithful reading of the same reply is kept
    beside it (`faithful_index`, ...), so one run shows both scorings of identical replies."""
    n = len(mcq.options)
    pred = {"id": mcq.id, "prompt_hash": answer["prompt_hash"], "category": mcq.category, "n_options": n}
    if method == "generate":
        faithful = extract_answer(answer["output"], n, fmt.label_style, fmt.abstain_number, fmt.echoes(mcq))
        ext = faithful
        pred |= {"raw_output": answer["output"], "option_logprobs": None}
        if extract == "published":
            prompt_text = fmt.render(mcq)
            decoded = answer.get("decoded_with_prompt", prompt_text + answer["output"])
            ext = published_extract(decoded, prompt_text, n, fmt.abstain_number)
            pred |= {
                "prompt_stripped": prompt_text in decoded,
                "faithful_index": faithful.choice,
                "faithful_correct": faithful.choice == mcq.answer,
                "faithful_abstained": faithful.abstained,
                "faithful_rule": faithful.rule,
            }
        choice, abstained, rule = ext.choice, ext.abstained, ext.rule
    else:
        lps = answer["option_logprobs"]
        if method == "loglik-norm":  # lm-eval acc_norm: log-likelihood per character of the option text
            keys = [lp / max(1, len(opt)) for lp, opt in zip(lps, mcq.options)]
        else:
            keys = lps
        choice = max(range(len(keys)), key=lambda i: (keys[i], -i))
        abstained, rule = False, method
        pred |= {"raw_output": None, "option_logprobs": lps}
    pred |= {
        "parsed": None if choice is None else fmt.label(choice),
        "parsed_index": choice,
        "gold": fmt.label(mcq.answer),
        "gold_index": mcq.answer,
        "correct": choice == mcq.answer,
        "abstained": abstained,
        "rule": rule,
        "prompt_tokens": answer["prompt_tokens"],
    }
    return pred


def _accuracy_entry(n: int, correct: int) -> dict:
    return {"n": n, "correct": correct, "accuracy": correct / n if n else 0.0,
            "ci95": list(wilson_interval(correct, n))}


def _counts(preds: list[dict], prefix: str = "") -> dict:
    """Accuracy and parse counts; `prefix` reads the faithful_* fields of a published run."""
    index_key = f"{prefix}index" if prefix else "parsed_index"
    n = len(preds)
    correct = sum(p[f"{prefix}correct"] for p in preds)
    abstained = sum(p[f"{prefix}abstained"] for p in preds)
    parsed = sum(p[index_key] is not None for p in preds)
    return _accuracy_entry(n, correct) | {"parsed": parsed, "unparsed": n - parsed - abstained, "abstained": abstained}


def summarize(preds: list[dict], method: str, fmt: PromptFormat | None = None) -> dict:
    n = len(preds)
    per_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_k: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for p in preds:
        if p["category"]:
            per_cat[p["category"]][0] += 1
            per_cat[p["category"]][1] += p["correct"]
        per_k[p["n_options"]][0] += 1
        per_k[p["n_options"]][1] += p["correct"]
    abstain = fmt.abstain_number if fmt is not None else None
    summary = _counts(preds) | {
        "rules": dict(sorted(Counter(p["rule"] for p in preds).items())),
        "per_category": {c: _accuracy_entry(k, m) for c, (k, m) in sorted(per_cat.items())},
        # keys are strings so that summary.json reads back equal to what was written
        "per_option_count": {
            str(k): _accuracy_entry(m, c) | {"chance": 1 / k} for k, (m, c) in sorted(per_k.items())
        },
        "prompt_tokens": sum(p["prompt_tokens"] for p in preds),
        "chance": sum(1 / p["n_options"] for p in preds) / n if n else None,
        "abstain_label": abstain,
        # questions where the instructions' "unsure" option number is also a real option
        "abstain_ambiguous": sum(abstain is not None and p["n_options"] >= abstain for p in preds),
    }
    if method == "generate" and preds and "faithful_index" in preds[0]:
        summary["prompt_not_stripped"] = sum(not p["prompt_stripped"] for p in preds)
        summary["faithful_same_replies"] = _counts(preds, "faithful_") | {
            "rules": dict(sorted(Counter(p["faithful_rule"] for p in preds).items()))
        }
    return summary
