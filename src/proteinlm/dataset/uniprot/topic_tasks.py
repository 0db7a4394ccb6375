"""Swiss-Prot entry -> SFT `Instruction`s: one per comment topic, "sequence in, annotation out".

The six published tasks (function, subunit structure, involvement in disease, post-translational
modification, tissue specificity, induction) plus subcellular location, domain and catalytic
activity. The instruction is one of several paraphrases so that a model learns the task rather
than one wording; the choice is the task's own number of the accession's `stable_choices` (a
hash), so outputs are reproducible across processes and machines. The output is the topic's text
as UniProt curators wrote it (cleaned, joined into one paragraph); only catalytic activity is
phrased, since bare reaction equations are not an answer a reader would write.
"""

from __future__ import annotations

from collections.abc import Iterable

from proteinlm.dataset.uniprot.swissprot import join_texts, reactions, section_texts, stable_choices
from proteinlm.records import Instruction, ProteinEntry

# task name -> UniProt comment topic; the order is the order of the returned instructions.
TASKS: dict[str, str] = {
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

# The number of the accession's `stable_choices` that picks each task's paraphrase (0-15 are the
# document's: see dataset.uniprot.swissprot.SECTION_CHOICE).
TASK_CHOICE = {task: 16 + i for i, task in enumerate(TASKS)}

# Paraphrases per task. Every one refers to a sequence given separately (the `input`), so they
# read correctly whether a chat template puts the input after the instruction or below it.
PROMPTS: dict[str, tuple[str, ...]] = {
    "function": (
        "Given the protein sequence below, describe its function.",
        "What is the biological function of the protein with this amino acid sequence?",
        "Predict the function of the following protein from its sequence.",
        "Analyze the amino acid sequence below and summarize the role of the protein.",
        "Based on the sequence provided, what does this protein do?",
    ),
    "subunit": (
        "Given the protein sequence below, describe its subunit structure.",
        "What is known about the quaternary structure and interaction partners of the protein with this sequence?",
        "Predict the subunit composition and binding partners of the following protein.",
        "Does the protein with the sequence below form complexes with other proteins? Describe its subunit structure.",
    ),
    "disease": (
        "Given the protein sequence below, describe its involvement in disease.",
        "Which diseases are associated with the protein with this amino acid sequence?",
        "Explain how the following protein is implicated in disease.",
        "What diseases are linked to defects in the protein with the sequence below?",
    ),
    "ptm": (
        "Given the protein sequence below, describe its post-translational modifications.",
        "What post-translational modifications does the protein with this sequence undergo?",
        "Predict the post-translational modifications of the following protein.",
        "Describe how the protein below is modified after translation.",
    ),
    "tissue_specificity": (
        "Given the protein sequence below, describe its tissue specificity.",
        "In which tissues is the protein with this amino acid sequence expressed?",
        "Predict the tissue expression pattern of the following protein.",
        "Where in the organism is the protein with the sequence below expressed?",
    ),
    "induction": (
        "Given the protein sequence below, describe how its expression is induced or regulated.",
        "What conditions or signals induce the expression of the protein with this sequence?",
        "Describe the induction of the following protein.",
        "How is the expression of the protein with the sequence below regulated in response to stimuli?",
    ),
    "subcellular_location": (
        "Given the protein sequence below, predict its subcellular location.",
        "Where in the cell is the protein with this amino acid sequence located?",
        "Which cellular compartment does the following protein localize to?",
        "Describe the subcellular localization of the protein with the sequence below.",
    ),
    "domain": (
        "Given the protein sequence below, describe its domains.",
        "What domains or regions does the protein with this sequence contain, and what do they do?",
        "Describe the domain organization of the following protein.",
        "Analyze the sequence below and explain the roles of the protein's domains.",
    ),
    "catalytic_activity": (
        "Given the protein sequence below, what reaction does it catalyze?",
        "What is the catalytic activity of the enzyme with this amino acid sequence?",
        "Predict the chemical reaction catalyzed by the following enzyme.",
        "Describe the catalytic activity of the protein with the sequence below.",
    ),
}


def task_output(topic: str, texts: tuple[str, ...]) -> str:
    """The answer for one topic: its texts (as `topic_texts` gives them: cleaned, non-empty) as one
    paragraph; reactions phrased as a sentence."""
    if topic == "CATALYTIC ACTIVITY" and (eqs := reactions(texts)):
        if len(eqs) == 1:
            return f"It catalyzes the reaction: {eqs[0]}."
        return "It catalyzes the following reactions: " + "; ".join(eqs) + "."
    return join_texts(texts)


def task_names(tasks: Iterable[str] | None) -> tuple[str, ...]:
    """The requested tasks in order, without duplicates (all by default); unknown names raise."""
    names = tuple(TASKS) if tasks is None else tuple(dict.fromkeys(tasks))  # no duplicate ids
    unknown = [t for t in names if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown UniProt task(s) {unknown}; known: {', '.join(TASKS)}")
    return names


def task_texts(
    acc: str, names: Iterable[str], sections: dict[str, tuple[str, ...]], choices: tuple[int, ...] | None = None
) -> list[tuple[str, str, str]]:
    """(task, instruction, output) of each task in `names` (as `task_names` gives them) whose topic
    has texts in `sections` (`section_texts` of the entry with accession `acc`). `choices`: the
    accession's `stable_choices`, if already computed."""
    out = []
    for task in names:
        topic = TASKS[task]
        texts = sections.get(topic)
        if texts:
            if choices is None:
                choices = stable_choices(acc)
            prompts = PROMPTS[task]
            out.append((task, prompts[choices[TASK_CHOICE[task]] % len(prompts)], task_output(topic, texts)))
    return out


def entry_instructions(
    entry: ProteinEntry,
    *,
    tasks: Iterable[str] | None = None,
    seq_tags: tuple[str, str] = ("<seq>", "</seq>"),
    seq_sep: str = " ",
    sections: dict[str, tuple[str, ...]] | None = None,
    seq_text: str | None = None,
) -> list[Instruction]:
    """One Instruction per requested task whose topic the entry has (all tasks by default).

    An entry without a sequence gives none: the sequence is the whole input of every task.
    `sections` (`section_texts(entry)`) and `seq_text` may be given when already computed.
    """
    from proteinlm.dataset.seqtext import seq_to_text  # sibling helper, imported when used

    names = task_names(tasks)
    if not entry.sequence:
        return []
    acc = entry.accession
    seq = seq_text if seq_text is not None else seq_to_text(
        entry.sequence, open_tag=seq_tags[0], close_tag=seq_tags[1], sep=seq_sep
    )
    if sections is None:
        sections = section_texts(entry)
    return [
        Instruction(
            id=f"{task}-{acc}",
            instruction=instruction,
            input=seq,
            output=output,
            task=task,
            meta={"accession": acc, "topic": TASKS[task]},
        )
        for task, instruction, output in task_texts(acc, names, sections)
    ]
