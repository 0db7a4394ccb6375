"""Swiss-Prot entry -> SFT Instructions (dataset/uniprot/topic_tasks.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from uniprot_examples import (  # noqa: E402
    BARE,
    EXAMPLES,
    HBA,
    MK01,
    P53,
    PARTIAL,
    expected_index,
    norm,
    probe,
    real_entries,
    seq_from_text,
)

from proteinlm.dataset.uniprot.topic_tasks import PROMPTS, TASKS, entry_instructions  # noqa: E402


def present_tasks(entry):
    return [task for task, topic in TASKS.items() if any(x.strip() for x in entry.comments.get(topic, ()))]


def assert_clean_output(text: str):
    assert text and text == text.strip() and "\n" not in text and "  " not in text
    assert text.endswith(".") and ".." not in text and "None" not in text
    assert "{ECO:" not in text and "PubMed:" not in text and "Note=" not in text


def test_task_table():
    assert TASKS == {
        "function": "FUNCTION",
        "subunit": "SUBUNIT",
        "disease": "DISEASE",
        "ptm": "PTM",
        "tissue_specificity": "TISSUE SPECIFICITY",
        "induction": "INDUCTION",
        "subcellular_location": "SUBCELLULAR LOCATION",
        "domain": "DOMAIN",
        "catalytic_activity": "CATALYTIC ACTIVITY",
    }
    assert set(PROMPTS) == set(TASKS)
    for task, prompts in PROMPTS.items():
        assert len(prompts) >= 4 and len(set(prompts)) == len(prompts), task
        for p in prompts:
            assert p == " ".join(p.split()) and p[0].isupper() and p.endswith((".", "?")), p


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_one_instruction_per_present_topic(name):
    entry = EXAMPLES[name]
    out = entry_instructions(entry)
    assert [i.task for i in out] == present_tasks(entry)
    seq = "<seq> " + " ".join(entry.sequence) + " </seq>"
    for ins in out:
        topic = TASKS[ins.task]
        assert ins.id == f"{ins.task}-{entry.accession}"
        assert ins.meta == {"accession": entry.accession, "topic": topic}
        assert ins.instruction in PROMPTS[ins.task]
        assert ins.input == seq and seq_from_text(ins.input) == [entry.sequence]
        for text in entry.comments[topic]:
            if text.strip():
                assert probe(text, topic) in ins.output, (ins.task, text)
        assert_clean_output(ins.output)
    assert len({i.id for i in out}) == len(out)


def test_output_is_the_curated_text():
    out = {i.task: i.output for i in entry_instructions(HBA)}
    assert out["function"] == "Involved in oxygen transport from the lung to the various peripheral tissues."
    assert out["tissue_specificity"] == "Red blood cells."
    # Two texts for one topic: one paragraph, in file order.
    assert out["disease"] == " ".join(norm(t) for t in HBA.comments["DISEASE"])
    assert "Note=" not in out["disease"] and "The disease is caused by variants" in out["disease"]
    assert "globin family" not in " ".join(out.values())  # SIMILARITY is no task


def test_partial_entry_cleaned_and_without_empty_topics():
    out = {i.task: i.output for i in entry_instructions(PARTIAL)}
    assert set(out) == {"function", "subcellular_location", "catalytic_activity"}  # "" and "   " skipped
    assert out["function"] == "Converts the abundant, but inactive, zymogen plasminogen to plasmin."
    assert out["subcellular_location"] == "Secreted, extracellular space."
    # Old free-text catalytic activity is not an equation: kept as written.
    assert out["catalytic_activity"] == "Specific cleavage of Arg-|-Val bond in plasminogen to form plasmin."


def test_catalytic_activity_phrased():
    (cat,) = entry_instructions(MK01, tasks=["catalytic_activity"])
    assert cat.output == (
        "It catalyzes the following reactions: ATP + L-seryl-[protein] = ADP + H(+) + "
        "O-phospho-L-seryl-[protein]; ATP + L-threonyl-[protein] = ADP + H(+) + "
        "O-phospho-L-threonyl-[protein]."
    )
    one = dataclasses.replace(MK01, comments={"CATALYTIC ACTIVITY": ("a ubiquinone + NADH = a ubiquinol + NAD(+).",)})
    (cat,) = entry_instructions(one)
    assert cat.output == "It catalyzes the reaction: a ubiquinone + NADH = a ubiquinol + NAD(+)."


def test_no_comments_or_no_sequence_gives_nothing():
    assert entry_instructions(BARE) == []
    assert entry_instructions(dataclasses.replace(HBA, sequence="")) == []


def test_task_selection():
    out = entry_instructions(P53, tasks=["ptm", "function", "ptm", "catalytic_activity"])
    assert [i.task for i in out] == ["ptm", "function"]  # asked order, duplicates dropped, absent skipped
    assert entry_instructions(P53, tasks=[]) == []
    with pytest.raises(ValueError, match="nonsense"):
        entry_instructions(P53, tasks=["function", "nonsense"])


@pytest.mark.parametrize(("tags", "sep"), [(("<protein>", "</protein>"), " "), (("[SEQ]", "[/SEQ]"), "")])
def test_custom_seq_tags(tags, sep):
    for ins in entry_instructions(P53, seq_tags=tags, seq_sep=sep):
        assert "<seq>" not in ins.input and seq_from_text(ins.input, tags, sep) == [P53.sequence]


def test_deterministic_and_pinned_to_sha512():
    for entry in EXAMPLES.values():
        assert entry_instructions(entry) == entry_instructions(dataclasses.replace(entry))
        for ins in entry_instructions(entry):
            prompts = PROMPTS[ins.task]
            number = 16 + list(PROMPTS).index(ins.task)
            assert ins.instruction == prompts[expected_index(entry.accession, number, len(prompts))]


def test_identical_across_processes():
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from uniprot_examples import EXAMPLES;"
        "from proteinlm.dataset.uniprot.topic_tasks import entry_instructions;"
        "print(json.dumps([[i.instruction, i.output] for e in EXAMPLES.values() for i in entry_instructions(e)]))"
    )
    outs = set()
    for seed in ("3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], env=env,
                                capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert len(outs) == 1
    here = [[i.instruction, i.output] for e in EXAMPLES.values() for i in entry_instructions(e)]
    assert json.loads(outs.pop()) == here


def test_paraphrases_vary_across_accessions():
    entries = [dataclasses.replace(P53, accessions=(f"Q{i:05d}",)) for i in range(20)]
    for task in ("function", "disease"):
        chosen = {entry_instructions(e, tasks=[task])[0].instruction for e in entries}
        assert len(chosen) >= 2, task
    # Per (accession, task): one entry does not ask every task the same way.
    assert len({PROMPTS[i.task].index(i.instruction) for i in entry_instructions(P53)}) >= 2


def test_every_real_entry():
    entries, reason = real_entries()
    if entries is None:
        pytest.skip(reason)
    assert entries
    for fname, entry in entries:
        where = f"{fname}:{entry.accession}"
        out = entry_instructions(entry)
        assert [i.task for i in out] == present_tasks(entry), where
        for ins in out:
            assert seq_from_text(ins.input) == [entry.sequence], where
            for text in entry.comments[TASKS[ins.task]]:
                if text.strip():
                    assert probe(text, TASKS[ins.task]) in ins.output, (where, ins.task, text)
            assert_clean_output(ins.output)
