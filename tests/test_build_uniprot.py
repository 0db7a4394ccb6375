"""`proteinlm build uniprot` end to end on the real Swiss-Prot and ENZYME entries."""

import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proteinlm.dataset.steps.writers import read_jsonl_gz
from proteinlm.dataset.uniprot.pipeline import UniprotBuildOptions, build_uniprot
from proteinlm.dataset.uniprot.topic_tasks import TASKS
from proteinlm.errors import ProteinLMError
from proteinlm.sources import uniprot

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
FIXTURE_ENZYME = REPO / "tests" / "fixtures" / "enzyme" / "real_entries_ecs.dat"
needs_data = pytest.mark.skipif(not (DATA / "swissprot").is_dir(), reason="../shared/data not present")

SEQ = re.compile(r"<seq> (.*?) </seq>")


def real_inputs():
    return sorted(str(p) for p in (DATA / "swissprot").iterdir())


def enzyme_inputs():
    return sorted(str(p) for p in (DATA / "enzyme").iterdir()) + [str(FIXTURE_ENZYME)]


def rows(out: Path, subset: str):
    return [r for p in sorted((out / subset).glob("*.jsonl.gz")) for r in read_jsonl_gz(p)]


def build(out, **kw):
    kw.setdefault("tokenizer", "none")
    inputs = kw.pop("inputs") if "inputs" in kw else real_inputs()  # real data only when no inputs are given
    enzyme = kw.pop("enzyme") if "enzyme" in kw else enzyme_inputs()
    progress = kw.pop("progress", None)
    return build_uniprot(UniprotBuildOptions(inputs=inputs, out=str(out), enzyme=enzyme, **kw), progress)


@needs_data
def test_every_topic_and_sequence_reaches_the_outputs(tmp_path):
    manifest = build(tmp_path / "b", shard_entries=5)
    docs = {r["accession"]: r["text"] for r in rows(tmp_path / "b", "pretrain/swissprot")}
    sft = rows(tmp_path / "b", "sft/uniprot")
    entries = {}
    for path in real_inputs():
        for e in uniprot.parse(path):
            entries.setdefault(e.accession, e)
    assert set(docs) == set(entries) and manifest["entries"] == len(entries)
    by_task = {(r["task"], r["accession"]): r for r in sft}
    topic_to_task = {topic: task for task, topic in TASKS.items()}
    for acc, e in entries.items():
        text = docs[acc]
        assert [s.replace(" ", "") for s in SEQ.findall(text)] == [e.sequence]
        for topic, texts in e.comments.items():
            if topic not in topic_to_task:
                continue
            for t in texts:
                if t.strip():
                    # documents may rephrase a text's first word ("Involved in" -> "It is involved in")
                    words = t.split()
                    probe = " ".join(words[1:] if len(words) > 1 else words)[:40]
                    assert probe in text, (acc, topic)
                    assert probe in by_task[(topic_to_task[topic], acc)]["output"], (acc, topic)
        for task_row in (r for r in sft if r["accession"] == acc):
            assert SEQ.fullmatch(task_row["input"]).group(1).replace(" ", "") == e.sequence
    everything = json.dumps([docs, sft, rows(tmp_path / "b", "sft/ecot")], ensure_ascii=False)
    assert "{ECO:" not in everything and "PubMed:" not in everything
    ecot = rows(tmp_path / "b", "sft/ecot")
    assert {r["accession"] for r in ecot} == {"O23729", "P00750"}
    assert all("Chalcone synthase" in r["output"] or "T-plasminogen activator" in r["output"] for r in ecot)
    # the duplicate entries of the XML file were counted, with their location
    assert manifest["skipped"]["count"] == 8 and all(".xml:" in s for s in manifest["skipped"]["records"])


@needs_data
def test_build_rows_equal_the_record_functions(tmp_path):
    """The build makes its rows without Document/Instruction records (faster): the same texts as
    entry_document and entry_instructions, with each option the rows depend on."""
    from proteinlm.dataset.uniprot.swissprot import entry_document
    from proteinlm.dataset.uniprot.topic_tasks import entry_instructions

    entries = {}
    for path in real_inputs():
        for e in uniprot.parse(path):
            entries.setdefault(e.accession, e)
    for kw in ({}, {"seq_open": "<protein>", "seq_close": "</protein>", "seq_sep": "", "tasks": ("ptm", "function")}):
        out = tmp_path / f"b{len(kw)}"
        build(out, **kw)
        tags, sep = (kw.get("seq_open", "<seq>"), kw.get("seq_close", "</seq>")), kw.get("seq_sep", " ")
        docs = {r["accession"]: r for r in rows(out, "pretrain/swissprot")}
        sft = [r for r in rows(out, "sft/uniprot")]
        want_sft = []
        for acc, e in entries.items():
            doc = entry_document(e, seq_tags=tags, seq_sep=sep)
            assert docs[acc] == {"id": doc.id, "text": doc.text, "source": "swissprot", "accession": acc}
            want_sft += [
                {"id": i.id, "task": i.task, "instruction": i.instruction, "input": i.input, "output": i.output,
                 "accession": acc}
                for i in entry_instructions(e, tasks=kw.get("tasks"), seq_tags=tags, seq_sep=sep)
            ]  # fmt: skip
        key = lambda r: r["id"]  # noqa: E731 - shards are split by accession: compare as sets
        assert sorted(sft, key=key) == sorted(want_sft, key=key) and len(sft) > 10


@needs_data
def test_same_input_gives_byte_identical_outputs_and_loads_with_datasets(tmp_path):
    done = {1: [], 2: []}  # what the progress bar is told, chunk by chunk
    a = build(tmp_path / "a", workers=1, shard_entries=4, progress=done[1].append)
    b = build(tmp_path / "b", workers=2, shard_entries=4, progress=done[2].append)
    assert a["outputs"] == b["outputs"]
    for steps in done.values():  # every entry read (duplicates are dropped before), a chunk at a time
        assert sum(steps) == a["entries"] and set(steps[:-1]) == {4}
    assert (tmp_path / "a" / "manifest.json").read_bytes() != b""
    import datasets

    out = tmp_path / "a"
    ds = datasets.load_dataset("json", data_files=str(out / "pretrain/swissprot/train-*.jsonl.gz"), split="train")
    pq = datasets.load_dataset("parquet", data_files=str(out / "sft/uniprot/train-*.parquet"), split="train")
    alpaca = datasets.load_dataset("json", data_files=str(out / "sft/alpaca/train.json"), split="train")
    assert len(ds) == a["rows"]["pretrain/swissprot/train"]
    assert len(pq) == a["rows"]["sft/uniprot/train"]
    assert len(alpaca) == a["rows"]["sft/uniprot/train"] + a["rows"]["sft/ecot/train"]
    assert set(alpaca.column_names) == {"instruction", "input", "output"}
    info = json.loads((out / "sft/dataset_info.json").read_text())
    assert info["proteinlm_sft_train"]["file_name"] == "alpaca/train.json"
    chat = [json.loads(x) for x in (out / "sft/chat/train.jsonl").read_text().splitlines()]
    assert [m["role"] for m in chat[0]["messages"]] == ["user", "assistant"]


@needs_data
def test_ecot_is_written_in_shards_of_shard_entries_rows(tmp_path):
    one = build(tmp_path / "one", shard_entries=1)
    build(tmp_path / "four", shard_entries=4)
    n = one["rows"]["sft/ecot/train"] + one["rows"]["sft/ecot/validation"]
    assert n >= 2
    assert len(list((tmp_path / "one" / "sft/ecot").glob("*.jsonl.gz"))) == n  # one example per shard
    assert rows(tmp_path / "one", "sft/ecot") == rows(tmp_path / "four", "sft/ecot")
    for export in ("alpaca/train.json", "alpaca/validation.json", "chat/train.jsonl"):  # the same rows, in order
        assert (tmp_path / "one" / "sft" / export).read_bytes() == (tmp_path / "four" / "sft" / export).read_bytes()
    assert not list((tmp_path / "one" / ".state").glob("ecot-*"))  # the candidates' scratch file is gone


@needs_data
def test_manifest_counts_tokens_with_a_named_tokenizer(tmp_path):
    m = build(tmp_path / "t", tokenizer="smollm2")
    assert m["tokens"]["tokenizer"] == "SmolLM2-135M-Instruct"
    assert m["tokens"]["counts"]["pretrain/swissprot/train"] > 1000
    # the counts (which skip tokenising sequences) equal plain tokenisation of every row
    from proteinlm.dataset.steps.tokens import TokenCounter

    plain = TokenCounter("smollm2")
    for name, total in m["tokens"]["counts"].items():
        texts = [r["text"] if "text" in r else f"{r['instruction']}\n{r['input']}\n{r['output']}" for r in rows(tmp_path / "t", name.rsplit("/", 1)[0]) if r["id"] and name.endswith("/" + _split(r, m))]
        assert total == sum(plain._encode_counts(texts)), name
    assert [i["path"] for i in m["inputs"]] == real_inputs() + enzyme_inputs()
    assert all(len(i["sha256"]) == 64 and i["bytes"] > 0 for i in m["inputs"])
    # flat files are hashed as they are parsed, the others by reading them again: both sha256sum's
    for i in m["inputs"]:
        data = Path(i["path"]).read_bytes()
        assert (i["bytes"], i["sha256"]) == (len(data), hashlib.sha256(data).hexdigest()), i["path"]


def _split(row, manifest):
    from proteinlm.dataset.steps.writers import split_of

    opts = manifest["options"]
    return split_of(row["accession"] or row["id"], opts["val_fraction"], opts["seed"])


def _synthetic(path: Path, copies: int) -> None:
    entry = (REPO / "tests" / "fixtures" / "uniprot").glob("*.dat")
    template = None
    for f in sorted(entry):
        text = f.read_text()
        if text.startswith("ID"):
            template = text.split("//\n")[0] + "//\n"
            break
    assert template, "needs a flat-file fixture"
    with path.open("w") as fh:
        for n in range(copies):
            fh.write(re.sub(r"^AC   [^\n]*", f"AC   Q{n:09d};", template, count=1, flags=re.M))


def test_killed_build_resumes_to_identical_outputs(tmp_path):
    src = tmp_path / "many.dat"
    _synthetic(src, 6000)
    common = [sys.executable, "-m", "proteinlm.cli", "build", "uniprot", "-i", str(src), "--tokenizer", "none",
              "--shard-entries", "500"]
    subprocess.run(common + ["--out", str(tmp_path / "full")], check=True, capture_output=True)
    proc = subprocess.Popen(common + ["--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "killed" / ".state"
    deadline, done = time.time() + 120, 0
    while time.time() < deadline and proc.poll() is None:
        done = len(list(state.glob("chunk-*.json"))) if state.exists() else 0
        if done >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert 2 <= done < 12, "the build must be killed part-way"
    subprocess.run(common + ["--out", str(tmp_path / "killed")], check=True, capture_output=True)
    run = json.loads((state / "last_run.json").read_text())
    assert run["chunks_resumed"] >= 2
    full = json.loads((tmp_path / "full" / "manifest.json").read_text())
    resumed = json.loads((tmp_path / "killed" / "manifest.json").read_text())
    assert full["outputs"] == resumed["outputs"] and full["rows"] == resumed["rows"]


def test_other_options_in_the_same_directory_are_refused(tmp_path):
    src = tmp_path / "few.dat"
    _synthetic(src, 3)
    build(tmp_path / "o", inputs=[str(src)], enzyme=[])
    with pytest.raises(ProteinLMError, match="other options"):
        build(tmp_path / "o", inputs=[str(src)], enzyme=[], seed=7)


def test_bad_entries_are_skipped_with_location_and_bad_files_stop(tmp_path):
    src = tmp_path / "bad.dat"
    _synthetic(src, 3)
    text = src.read_text()
    first_end = text.index("//\n") + 3
    # second entry: sequence cut short, so its length no longer matches the SQ line
    second = text[first_end:text.index("//\n", first_end) + 3]
    seq_start = second.index("\n     ", second.index("\nSQ ")) + 1
    broken = second[:seq_start] + second[seq_start:].replace("\n     ", "\n", 1).split("\n", 1)[1]
    src.write_text(text[:first_end] + broken + text[first_end + len(second):])
    m = build(tmp_path / "bad", inputs=[str(src)], enzyme=[])
    assert m["entries"] == 2 and m["skipped"]["count"] == 1
    assert re.search(r"bad\.dat:\d+", m["skipped"]["records"][0])

    gz = tmp_path / "cut.dat.gz"
    gz.write_bytes(gzip.compress(src.read_bytes())[:-200])
    res = subprocess.run([sys.executable, "-m", "proteinlm.cli", "build", "uniprot", "-i", str(gz), "--tokenizer", "none",
                          "--out", str(tmp_path / "cut")], capture_output=True, text=True)
    assert res.returncode != 0 and "cut.dat.gz" in res.stderr + res.stdout


@pytest.mark.model
def test_token_counts_equal_the_transformers_tokenizer(smollm2):
    from proteinlm.dataset.steps.tokens import TokenCounter

    texts = ["The protein Hemoglobin subunit alpha has the UniProt accession P69905.", "<seq> M V L S P A D K T N </seq>", "蛋白质"]
    expected = [len(smollm2.tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
    assert TokenCounter("smollm2").count(texts) == expected


def _exports(out: Path) -> dict:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "sft").glob("*/*")) if p.suffix in (".json", ".jsonl")}


def test_exports_equal_the_shards_after_reruns_and_old_state(tmp_path):
    """The alpaca/chat exports, written while the build runs, hold every SFT row of the shards in
    order; a rerun of a finished build and a resume from state without export sizes (an older
    version) give the same bytes."""
    src = tmp_path / "many.dat"
    _synthetic(src, 30)
    kw = dict(inputs=[str(src)], enzyme=[str(FIXTURE_ENZYME)], shard_entries=7, val_fraction=0.3)
    first = build(tmp_path / "out", **kw)
    want = _exports(tmp_path / "out")
    out = tmp_path / "out"
    shard = [r for s in ("uniprot", "ecot") for r in rows(out, f"sft/{s}") if r["id"]]
    alpaca = json.loads(want["sft/alpaca/train.json"]) + json.loads(want["sft/alpaca/validation.json"])
    assert sorted((a["instruction"], a["input"], a["output"]) for a in alpaca) == sorted(
        (r["instruction"], r["input"], r["output"]) for r in shard)
    chat = [json.loads(x) for x in want["sft/chat/train.jsonl"].decode().splitlines()]
    assert chat[0]["messages"][0]["content"] == f"{alpaca[0]['instruction']}\n{alpaca[0]['input']}"
    assert len(alpaca) == sum(v for k, v in first["exports"].items() if k.startswith("alpaca/")) > 30

    assert build(out, **kw)["outputs"] == first["outputs"]  # rerun of a finished build
    assert _exports(out) == want
    for f in (out / ".state").glob("chunk-*.json"):  # state written before export sizes were kept
        d = json.loads(f.read_text())
        d.pop("exports")
        f.write_text(json.dumps(d))
    (out / "sft" / "alpaca" / "train.json").unlink()
    assert build(out, **kw)["outputs"] == first["outputs"]
    assert _exports(out) == want and not list((out / "sft").glob("*/*.partial"))


@needs_data
def test_builds_with_and_without_the_c_reader_are_byte_identical(tmp_path):
    """The compiled flat-file reader and its cutting loop: a build in a process where
    PROTEINLM_PURE_PYTHON=1 leaves them unused writes the same files and counts the same tokens."""
    if os.environ.get("PROTEINLM_REQUIRE_C") != "1" and uniprot._c_fields is None:
        pytest.skip("the C reader is not built")
    kw = dict(shard_entries=4, tokenizer="smollm2")
    build(tmp_path / "c", **kw)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from test_build_uniprot import build; "
        "from proteinlm.sources import uniprot; assert uniprot._c_fields is None; "
        "build(sys.argv[2], shard_entries=4, tokenizer='smollm2')"
    )
    env = dict(os.environ, PROTEINLM_PURE_PYTHON="1")
    subprocess.run([sys.executable, "-c", code, str(REPO / "tests"), str(tmp_path / "py")], env=env, check=True)

    def files(out: Path) -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file() and ".state" not in p.parts and p.name != "manifest.json"}  # fmt: skip

    assert files(tmp_path / "c") == files(tmp_path / "py") != {}
    manifests = [json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("c", "py")]
    for m in manifests:
        m["options"].pop("out")
    assert manifests[0] == manifests[1] and manifests[0]["tokens"]["counts"]["pretrain/swissprot/train"] > 1000


def test_a_killed_runs_temporary_files_are_removed_and_never_listed(tmp_path):
    """A kill can leave a half-written `.NAME.tmp-PID` file (finished files are renamed into place):
    the resumed build deletes it and the manifest never lists it."""
    src = tmp_path / "few.dat"
    _synthetic(src, 30)
    first = build(tmp_path / "b", inputs=[str(src)], enzyme=[], shard_entries=10)
    stale = [tmp_path / "b" / "pretrain" / "swissprot" / ".train-00001.jsonl.gz.tmp-99999",
             tmp_path / "b" / "sft" / "uniprot" / ".train-00002.parquet.tmp-99999"]  # fmt: skip
    for p in stale:
        p.write_bytes(b"half")
    again = build(tmp_path / "b", inputs=[str(src)], enzyme=[], shard_entries=10)
    assert not any(p.exists() for p in stale)
    assert again["outputs"] == first["outputs"] and not any(".tmp-" in o["path"] for o in again["outputs"])
