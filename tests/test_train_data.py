"""Training data readers: located errors, answers kept whole when prompts are cut, packs checked."""

import gzip
import json

import numpy as np
import pytest

from proteinlm.train.data import _records, packed_rows, pretrain_dataset, sft_files, shorten_sequence, to_turns
from proteinlm.train.model import TrainError


def test_a_broken_line_is_located(tmp_path):
    f = tmp_path / "sft.jsonl"
    f.write_text('{"instruction": "a", "input": "", "output": "b"}\n\n{"instruction": "c", "out\n')
    rows = _records(f)
    assert next(rows)[1]["output"] == "b"
    with pytest.raises(TrainError, match=r"sft\.jsonl:3"):
        next(rows)


def test_alpaca_and_messages_become_a_prompt_and_its_answer(tmp_path):
    assert to_turns("x", {"instruction": "What?", "input": "<seq> M K </seq>", "output": "This."}) == (
        [{"role": "user", "content": "What?\n<seq> M K </seq>"}], "This.")
    msgs = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                         {"role": "assistant", "content": "a"}]}
    assert to_turns("x", msgs) == (msgs["messages"][:2], "a")
    with pytest.raises(TrainError, match="f.json record 4: `messages` must end with an assistant turn"):
        to_turns("f.json record 4", {"messages": [{"role": "user", "content": "u"}]})
    with pytest.raises(TrainError, match="expected alpaca fields"):
        to_turns("x", {"question": "q"})
    with pytest.raises(TrainError, match="no sft/alpaca/train.json"):
        sft_files([str(tmp_path)], "train")


def test_a_long_sequence_is_shortened_and_marked():
    text = "Which protein is this?\n<seq> " + " ".join("MKTAYIAKQR" * 10) + " </seq>"
    cut = shorten_sequence(text, 30)
    residues = cut.split("<seq>")[1].split("</seq>")[0].split()
    assert residues[-1] == "..." and len(residues) - 1 == 100 - 30 - 2
    assert cut.startswith("Which protein is this?\n<seq> M K T") and cut.endswith(" ... </seq>")
    assert shorten_sequence("no sequence here", 5) is None
    assert shorten_sequence("<seq> M K T </seq>", 5) is None  # nothing sensible left to keep


class _Vocab:
    """The three tokenizer calls `packed_rows` makes, over a 100-token vocabulary."""

    def __len__(self):
        return 100

    def convert_ids_to_tokens(self, i):
        return f"t{i}"

    def convert_tokens_to_ids(self, t):
        return int(t[1:])


def _pack(tmp_path, rows, seq_len, tokens):
    arr = np.asarray(rows, dtype=np.uint16)
    (tmp_path / "tokens.bin").write_bytes(arr.tobytes())
    meta = {"seq_len": seq_len, "dtype": "uint16", "rows": len(rows), "tokens": tokens, "eos_id": 0, "tokenizer": "x"}
    (tmp_path / "pack.json").write_text(json.dumps(meta))


def test_packed_rows_drop_the_padding_and_refuse_foreign_ids(tmp_path):
    _pack(tmp_path, [[5, 6, 7, 0], [8, 9, 0, 0]], 4, 6)  # 6 real tokens, 2 pad in the last row
    assert list(packed_rows(tmp_path, _Vocab())) == [{"input_ids": [5, 6, 7, 0]}, {"input_ids": [8, 9]}]
    _pack(tmp_path, [[5, 600, 7, 0]], 4, 4)
    with pytest.raises(TrainError, match="vocabulary has 100"):
        list(packed_rows(tmp_path, _Vocab()))


def test_documents_need_text(tmp_path):
    d = tmp_path / "pretrain" / "pubmed"
    d.mkdir(parents=True)
    with gzip.open(d / "train-00000.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"id": "a", "text": "Hemoglobin carries oxygen."}) + "\n")
        fh.write(json.dumps({"id": "b", "body": "no text field"}) + "\n")
    with pytest.raises(TrainError, match=r"train-00000\.jsonl\.gz:2: a document needs a `text` field"):
        pretrain_dataset([str(tmp_path)], None, split="train")
    with pytest.raises(TrainError, match="no packed/ directory"):
        pretrain_dataset([str(tmp_path / "nothing")], None, split="train")


# `import trl` fails as it does where the train extra is not installed (a finder that refuses it)
_WITHOUT_TRL = """
import sys

class NoTrl:
    def find_spec(self, name, path=None, target=None):
        if name == "trl" or name.startswith("trl."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoTrl())
from proteinlm.cli import app

app(["train", "sft", "--data", sys.argv[1], "--out", sys.argv[2]], prog_name="proteinlm")
"""


def test_training_without_trl_names_the_install_command(tmp_path):
    import subprocess
    import sys

    data = tmp_path / "sft.jsonl"
    data.write_text('{"instruction": "Name the protein.", "input": "", "output": "Hemoglobin"}\n')
    res = subprocess.run([sys.executable, "-c", _WITHOUT_TRL, str(data), str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=300)
    said = " ".join((res.stdout + res.stderr).split())
    assert res.returncode == 2, said
    assert "No module named 'trl'" in said and "pip install 'proteinlm[train]'" in said
    assert "Traceback" not in said
    assert not (tmp_path / "run").exists()  # stopped before writing anything


def test_empty_documents_are_counted_as_dropped(tmp_path):
    d = tmp_path / "pretrain" / "pubmed"
    d.mkdir(parents=True)
    with gzip.open(d / "train-00000.jsonl.gz", "wt") as fh:
        for text in ("Hemoglobin carries oxygen.", "  ", "Myoglobin stores it."):
            fh.write(json.dumps({"text": text}) + "\n")
    dataset, stats, packed = pretrain_dataset([str(tmp_path)], None, split="train")
    assert (len(dataset), stats["documents"], stats["empty_dropped"], packed) == (2, 2, 1, False)
