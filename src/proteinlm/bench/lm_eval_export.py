"""Export a benchmark as an lm-evaluation-harness task, to cross-check our scores with the harness.

Two tasks are written, sharing one JSONL file whose `prompt` column is our exact rendered prompt:

- `<name>_label`: scores the option labels (" 1", " 2", ... or " A", " B", ...) after
  "<prompt><answer_prefix_raw>"; this is our `loglik` method.
- `<name>_text`: scores the option texts after "<prompt>" and reports `acc` and `acc_norm`
  (lm-eval normalises by the continuation's byte length); this matches our `loglik-norm` method.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

from proteinlm.bench.prompts import PromptFormat
from proteinlm.errors import BenchDataError
from proteinlm.records import MCQ

_TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_UTILS_TEMPLATE = '''"""Helpers for the {task} lm-eval tasks (written by `proteinlm`; prompt format {fmt!r})."""

#: appended to the rendered prompt before the option label, as proteinlm's `loglik` method does
ANSWER_PREFIX = {prefix!r}


def doc_to_text_label(doc):
    return doc["prompt"] + ANSWER_PREFIX


def doc_to_text_prompt(doc):
    return doc["prompt"]
'''


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _task_yaml(task: str, data_file: Path, *, doc_to_text: str, choices: str, delim: str,
               metrics: Sequence[str], fmt: PromptFormat) -> str:
    metric_lines = "".join(
        f"  - metric: {m}\n    aggregation: mean\n    higher_is_better: true\n" for m in metrics
    )
    return (
        f"# Written by proteinlm (prompt format {fmt.name!r}, fingerprint {fmt.fingerprint()}).\n"
        f"task: {task}\n"
        f"dataset_path: json\n"
        f"dataset_kwargs:\n"
        f"  data_files:\n"
        f"    test: {_q(str(data_file))}\n"
        f"test_split: test\n"
        f"output_type: multiple_choice\n"
        f"doc_to_text: {doc_to_text}\n"
        f"doc_to_choice: {choices}\n"
        f"doc_to_target: answer\n"
        f"target_delimiter: {_q(delim)}\n"
        f"num_fewshot: 0\n"
        f"metric_list:\n{metric_lines}"
        f"metadata:\n"
        f"  version: 1.0\n"
    )


def lm_eval_command(out_dir: Path, task: str, model_args: str = "pretrained=<hf-repo-or-dir>") -> str:
    """The `lm_eval` command line that runs one exported task."""
    return (
        f"lm_eval --model hf --model_args {model_args} --include_path {out_dir} --tasks {task} "
        f"--batch_size 1 --output_path {out_dir / 'results'} --log_samples"
    )


def _readme(out_dir: Path, task_name: str, fmt: PromptFormat, n: int) -> str:
    gguf_args = "pretrained=<hf-repo-or-dir>,gguf_file=<model.gguf>"
    return f"""# lm-evaluation-harness tasks for `{task_name}`

Written by `proteinlm` from {n} records in prompt format `{fmt.name}` (fingerprint `{fmt.fingerprint()}`).
`{task_name}.jsonl` holds, per question, our exact rendered prompt (`prompt`), the option texts
(`options`), the option labels (`labels`), the 0-based `answer` and the `category`.

| task | context | continuations | metrics | proteinlm method |
|---|---|---|---|---|
| `{task_name}_label` | prompt + {fmt.answer_prefix_raw!r} | {fmt.label_sep!r} + label | acc | `loglik` |
| `{task_name}_text` | prompt | ' ' + option text | acc, acc_norm | `loglik-norm` |

Run the label task (the one to compare with proteinlm's `loglik` method) on a GGUF model:

```
{lm_eval_command(out_dir, f"{task_name}_label", gguf_args)}
```

or on a Hugging Face model:

```
{lm_eval_command(out_dir, f"{task_name}_label")}
```

Use `--tasks {task_name}_text` for the option-text task, or `--tasks {task_name}_label,{task_name}_text`
for both. The tasks use the raw (non-chat) prompt; do not pass `--apply_chat_template` when comparing
with proteinlm runs on raw prompts. `acc_norm` divides by the option's length in bytes, so it may
differ slightly from proteinlm's `loglik-norm` if that normalises differently. The YAML files name
the JSONL by its absolute path: re-export if you move this directory.
"""


def export_lm_eval(records: Sequence[MCQ], fmt: PromptFormat, out_dir: str | Path, task_name: str) -> list[Path]:
    """Write `<task_name>.jsonl`, the `_label` and `_text` task YAMLs, `utils.py` and `README.md`.

    Returns the written paths. `out_dir` is created; existing files of the same names are replaced.
    """
    if not _TASK_NAME.match(task_name):
        raise ValueError(f"task name {task_name!r}: use letters, digits, '_', '-' and '.' only")
    if not records:
        raise BenchDataError(f"export to lm-eval task {task_name!r}: no records to export")
    out_dir = Path(out_dir).expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    data_path = out_dir / f"{task_name}.jsonl"
    with data_path.open("w", encoding="utf-8") as fh:
        for mcq in records:
            if not 0 <= mcq.answer < len(mcq.options):
                raise BenchDataError(f"record {mcq.id}: answer index {mcq.answer} out of range")
            row = {
                "id": str(mcq.id),
                "prompt": fmt.render(mcq),
                "options": list(mcq.options),
                # as `loglik` scores them: with `label_end` where one label prefixes another (" 1." .. " 10.")
                "labels": [c.removeprefix(fmt.label_sep) for c in fmt.label_continuations(mcq)],
                "answer": int(mcq.answer),
                "category": mcq.category,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    utils_path = out_dir / "utils.py"
    utils_path.write_text(
        _UTILS_TEMPLATE.format(task=task_name, fmt=fmt.name, prefix=fmt.answer_prefix_raw), encoding="utf-8"
    )
    # Choices by column name: lm-eval then returns the list as stored, with no template round trip.
    label_yaml = out_dir / f"{task_name}_label.yaml"
    label_yaml.write_text(
        _task_yaml(f"{task_name}_label", data_path, doc_to_text="!function utils.doc_to_text_label",
                   choices="labels", delim=fmt.label_sep, metrics=["acc"], fmt=fmt),
        encoding="utf-8",
    )
    text_yaml = out_dir / f"{task_name}_text.yaml"
    text_yaml.write_text(
        _task_yaml(f"{task_name}_text", data_path, doc_to_text=_q("{{prompt}}"), choices="options",
                   delim=" ", metrics=["acc", "acc_norm"], fmt=fmt),
        encoding="utf-8",
    )
    readme = out_dir / "README.md"
    readme.write_text(_readme(out_dir, task_name, fmt, len(records)), encoding="utf-8")
    return [data_path, label_yaml, text_yaml, utils_path, readme]
