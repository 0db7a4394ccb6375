"""Template MCQs from Swiss-Prot: answers verifiable against the entries, distractors never also true."""

import json
import re

import pytest

from conftest import REPO, SHARED_DATA
from proteinlm.bench.loaders import load_bench
from proteinlm.benchgen.from_uniprot import (
    EC_CLASSES,
    QuestionOptions,
    make_questions,
    questions_from_build,
    truth,
)
from proteinlm.errors import ProteinLMError
from proteinlm.sources.uniprot import parse

FIXTURE = REPO / "tests" / "fixtures" / "uniprot" / "modern.dat"


def _inputs() -> list[str]:
    files = sorted((SHARED_DATA / "swissprot").glob("*.txt")) + [SHARED_DATA / "swissprot" / "sp016"]
    return [str(f) for f in files if f.is_file()] or [str(FIXTURE)]


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    from proteinlm.dataset.uniprot.pipeline import UniprotBuildOptions, build_uniprot

    out = tmp_path_factory.mktemp("build")
    build_uniprot(UniprotBuildOptions(inputs=_inputs(), out=str(out), val_fraction=0.5, tokenizer="none"))
    return out


def test_questions_are_true_to_the_entries(build_dir):
    entries = {e.accession: e for f in _inputs() for e in parse(f)}
    qs, stats = questions_from_build(build_dir, inputs=[], split="validation", opts=QuestionOptions())
    assert qs and stats["proteins"] >= 2
    val = {json.loads(x)["accession"] for f in (build_dir / "pretrain/swissprot").glob("validation-*.jsonl.gz")
           for x in __import__("gzip").open(f, "rt")}
    for q in qs:
        entry = entries[q["accession"]]
        assert entry.accession in val, "only proteins of the asked split get questions"
        options = [o.split(": ", 1)[1] for o in q["options"]]
        answer = options[int(q["answer"].split()[1]) - 1]
        told, _, conflicts, _ = truth(entry, q["category"])
        assert answer == told and len(set(options)) == len(options) == 4
        assert not any(conflicts(o) for o in options if o != answer), q["id"]
        seq = q["question"].split("<seq>")[1].split("</seq>")[0].split()
        assert "".join(seq) == entry.sequence[: len(seq)]
        if q["category"] == "ec_class":
            assert answer == EC_CLASSES[entry.ec_numbers[0].split(".")[0]]
    assert len({q["id"] for q in qs}) == len(qs)


def test_the_bench_reads_them_and_answers_spread_over_positions(build_dir, tmp_path):
    qs, _ = questions_from_build(build_dir, inputs=[], split="train", opts=QuestionOptions(n_options=6))
    path = tmp_path / "q.json"
    path.write_text(json.dumps(qs))
    bench = load_bench(str(path))
    assert len(bench.records) == len(qs) and not bench.skipped
    assert all(len(r.options) == 6 for r in bench.records)
    assert len({r.answer for r in bench.records}) >= 4, "answer positions must vary"


def test_same_inputs_same_questions_other_seed_other_order(build_dir):
    a, _ = questions_from_build(build_dir, inputs=[], split="validation", opts=QuestionOptions(seed=0))
    b, _ = questions_from_build(build_dir, inputs=[], split="validation", opts=QuestionOptions(seed=0))
    c, _ = questions_from_build(build_dir, inputs=[], split="validation", opts=QuestionOptions(seed=1))
    assert a == b and [q["answer"] for q in a] != [q["answer"] for q in c]


def test_long_sequences_are_cut_and_say_so():
    entries = list(parse(FIXTURE))
    qs, _ = make_questions(entries, entries, QuestionOptions(max_residues=50, kinds=("organism",)))
    long = [q for q in qs if "residues are shown" in q["question"]]
    assert long and all(len(q["question"].split("<seq>")[1].split("</seq>")[0].split()) == 50 for q in long)


def test_bad_options_and_missing_split_are_errors(build_dir, tmp_path):
    with pytest.raises(ProteinLMError, match="2-6"):
        QuestionOptions(n_options=7)
    with pytest.raises(ProteinLMError, match="unknown question kinds"):
        QuestionOptions(kinds=("colour",))
    with pytest.raises(ProteinLMError, match="no pretrain/swissprot"):
        questions_from_build(tmp_path, inputs=[str(FIXTURE)], split="validation", opts=QuestionOptions())
    other = tmp_path / "other.dat"  # one entry under an accession the build never saw
    other.write_text(re.sub(r"^AC   [^\n]*", "AC   Q99999;", FIXTURE.read_text().split("//\n")[0] + "//\n", count=1, flags=re.M))
    with pytest.raises(ProteinLMError, match="not in the inputs"):
        questions_from_build(build_dir, inputs=[str(other)], split="validation", opts=QuestionOptions())


def test_accelerate_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    kinds = {}
    for path in sorted((REPO / "configs" / "accelerate").glob("*.yaml")):
        cfg = load_config_from_file(str(path))
        kinds[path.stem] = (str(cfg.distributed_type), cfg.deepspeed_config.get("zero_stage"), cfg.fsdp_config)
    assert kinds["single_gpu"][0].endswith("NO") and kinds["multi_gpu_ddp"][0].endswith("MULTI_GPU")
    assert kinds["fsdp"][0].endswith("FSDP") and kinds["fsdp"][2]["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    assert kinds["deepspeed_zero2"][1] == 2 and kinds["deepspeed_zero3"][1] == 3
