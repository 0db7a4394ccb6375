"""The exported lm-eval task loads with lm-eval's own machinery and asks for exactly our requests."""

from __future__ import annotations

import json
import os
import warnings

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

lm_eval = pytest.importorskip("lm_eval")

from proteinlm.bench.lm_eval_export import export_lm_eval  # noqa: E402
from proteinlm.bench.prompts import LETTER, OFFICIAL  # noqa: E402
from proteinlm.errors import BenchDataError  # noqa: E402
from proteinlm.records import MCQ  # noqa: E402

RECORDS = [
    MCQ(id="q0", question="Which residue is a helix breaker?", options=("Proline", "Alanine", "Leucine", "Glutamate"),
        answer=0, category="structure"),
    MCQ(id="q1", question='What does "ATP" stand for? {not a field}',
        options=("adenosine triphosphate", "it's 'alanine' … μ", "neither", "both", "unsure"),
        answer=1, category="function"),
    MCQ(id="q2", question="Pick C.", options=("x", "y", "z"), answer=2, category=None),
]


def _load_tasks(out_dir, names):
    from lm_eval.tasks import TaskManager, get_task_dict

    tm = TaskManager(include_path=str(out_dir), include_defaults=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tasks = get_task_dict(names, tm)
    assert set(names) <= set(tasks), tasks
    return tasks


def _requests(task):
    task.build_all_requests(limit=None, rank=0, world_size=1)
    by_doc: dict[int, list] = {}
    for inst in sorted(task.instances, key=lambda i: (i.doc_id, i.idx)):
        assert inst.request_type == "loglikelihood"
        by_doc.setdefault(inst.doc_id, []).append(tuple(inst.args))
    return by_doc


@pytest.mark.parametrize("fmt", [OFFICIAL, LETTER], ids=lambda f: f.name)
def test_exported_tasks_match_our_prompts(tmp_path, fmt):
    name = f"plmb_test_{fmt.name}"
    out = tmp_path / "task"
    paths = export_lm_eval(RECORDS, fmt, out, name)
    names = {p.name for p in paths}
    assert names == {f"{name}.jsonl", f"{name}_label.yaml", f"{name}_text.yaml", "utils.py", "README.md"}

    rows = [json.loads(line) for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"]
    assert rows[1]["options"] == list(RECORDS[1].options)
    assert rows[1]["labels"] == [fmt.label(i) for i in range(5)]
    assert [r["category"] for r in rows] == ["structure", "function", None]

    tasks = _load_tasks(out, [f"{name}_label", f"{name}_text"])
    label_task, text_task = tasks[f"{name}_label"], tasks[f"{name}_text"]

    docs = list(label_task.test_docs())
    assert len(docs) == len(RECORDS)
    for doc, mcq in zip(docs, RECORDS):
        prompt = fmt.render(mcq)
        labels = [fmt.label(i) for i in range(len(mcq.options))]
        assert doc["prompt"] == prompt
        assert label_task.doc_to_text(doc) == prompt + fmt.answer_prefix_raw
        assert label_task.doc_to_choice(doc) == labels
        assert label_task.doc_to_target(doc) == mcq.answer
        assert text_task.doc_to_text(doc) == prompt
        assert text_task.doc_to_choice(doc) == list(mcq.options)
        assert text_task.doc_to_target(doc) == mcq.answer

    label_reqs, text_reqs = _requests(label_task), _requests(text_task)
    for i, mcq in enumerate(RECORDS):
        prompt = fmt.render(mcq)
        ctx = prompt + fmt.answer_prefix_raw
        assert label_reqs[i] == [(ctx, cont) for cont in fmt.label_continuations(mcq)]
        assert label_reqs[i] == [(ctx, " " + fmt.label(j)) for j in range(len(mcq.options))]
        assert text_reqs[i] == [(prompt, " " + opt) for opt in mcq.options]

    assert set(label_task._metric_fn_list) == {"acc"}
    assert set(text_task._metric_fn_list) == {"acc", "acc_norm"}


@pytest.mark.parametrize("fmt, labels", [
    (OFFICIAL, [f" {i}." for i in range(1, 11)]),  # " 1" would be a prefix of " 10"
    (LETTER, [f" {c}" for c in "ABCDEFGHIJ"]),
], ids=["official", "letter"])
def test_ten_options_are_scored_as_loglik_scores_them(tmp_path, fmt, labels):
    ten = MCQ(id="q10", question="Which one is ten?", options=tuple(f"o{i}" for i in range(1, 11)), answer=9)
    name = f"plmb_ten_{fmt.name}"
    export_lm_eval([ten], fmt, tmp_path, name)
    task = _load_tasks(tmp_path, [f"{name}_label"])[f"{name}_label"]
    ctx = fmt.render(ten) + fmt.answer_prefix_raw
    assert fmt.label_continuations(ten) == labels
    assert _requests(task)[0] == [(ctx, cont) for cont in labels]


def test_readme_has_command_and_yaml_absolute_path(tmp_path):
    out = tmp_path / "exp"
    export_lm_eval(RECORDS, OFFICIAL, out, "plmb")
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert f"--include_path {out.resolve()}" in readme
    assert "--tasks plmb_label" in readme
    assert "gguf_file=" in readme and "--batch_size 1" in readme and "--output_path" in readme
    yaml_text = (out / "plmb_label.yaml").read_text(encoding="utf-8")
    assert json.dumps(str((out / "plmb.jsonl").resolve())) in yaml_text
    assert "ANSWER_PREFIX = ' Option'" in (out / "utils.py").read_text(encoding="utf-8")


def test_bad_input(tmp_path):
    with pytest.raises(ValueError):
        export_lm_eval(RECORDS, OFFICIAL, tmp_path, "bad name/../x")
    with pytest.raises(BenchDataError):
        export_lm_eval([], OFFICIAL, tmp_path, "plmb")
    bad = MCQ(id="b", question="?", options=("a", "b"), answer=5)
    with pytest.raises(BenchDataError, match="record b"):
        export_lm_eval([bad], OFFICIAL, tmp_path, "plmb")


def test_export_from_official_json_file(tmp_path):
    loaders = pytest.importorskip("proteinlm.bench.loaders")
    raw = [
        {"question": "Which amino acid has a thiol group?",
         "options": ["option 1: Serine", "option 2: Cysteine", "option 3: Valine", "option 4: Glycine"],
         "answer": "option 2", "explanation": ""},
        {"question": "Pick the last.", "options": ["option 1: a", "option 2: b", "option 3: c"],
         "answer": "option 3", "explanation": ""},
    ]
    src = tmp_path / "mini.json"
    src.write_text(json.dumps(raw), encoding="utf-8")
    bench = loaders.load_bench(str(src))
    out = tmp_path / "task"
    export_lm_eval(bench.records, OFFICIAL, out, "mini")
    task = _load_tasks(out, ["mini_label"])["mini_label"]
    docs = list(task.test_docs())
    assert task.doc_to_text(docs[0]).endswith("option 2: Cysteine\noption 3: Valine\noption 4: Glycine\n"
                                              "The correct option is: Option")
    assert [task.doc_to_target(d) for d in docs] == [1, 2]
    assert _requests(task)[1] == [(OFFICIAL.render(bench.records[1]) + " Option", f" {k}") for k in "123"]
