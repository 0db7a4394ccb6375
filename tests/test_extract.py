"""Answer extraction from realistic ProteinLMBench model replies.

Each row: (reply, n_options, style, expected 0-based choice or None, expected abstained).
"""

import dataclasses

import pytest

from proteinlm.bench.extract import Extraction, extract_answer

N, L = "number", "letter"

LONG_RAMBLE = (
    "Let's analyze the question. Hemoglobin is a tetramer made of 4 subunits, each with 146 or "
    "141 residues, and it binds 4 O2 molecules. At pH 7.4 its affinity is modulated by 2,3-BPG. "
    "Myoglobin (UniProt P02144) has 1 chain. Considering all 6 options carefully, "
    "the correct option is Option 2."
)

CASES = [
    # --- official number-style verdicts ---
    ("The correct option is Option 3", 6, N, 2, False),
    ("The correct option is: option 3.", 6, N, 2, False),
    ("The correct option is 3", 6, N, 2, False),
    ("the correct option number is 3", 6, N, 2, False),
    ("The correct option is Option 1.\n\nExplanation: option 1 describes hemoglobin.", 4, N, 0, False),
    ("The correct option is option 6.", 6, N, 5, False),
    ("The answer is option 3", 6, N, 2, False),
    ("Answer: 3", 6, N, 2, False),
    ("**Answer:** 4", 6, N, 3, False),
    ("The final answer is **Option 5**.", 6, N, 4, False),
    ("# Answer\nThe correct option is `Option 2`", 6, N, 1, False),
    # --- bare / short replies ---
    ("option 3", 6, N, 2, False),
    ("Option 3: Hemoglobin", 6, N, 2, False),
    ("3.", 6, N, 2, False),
    ("3", 6, N, 2, False),
    ("(3)", 6, N, 2, False),
    ("3)", 6, N, 2, False),
    ("**Option 3**", 6, N, 2, False),
    ("  4\n", 6, N, 3, False),
    ("2. Myoglobin stores oxygen in muscle tissue.", 6, N, 1, False),
    ("5\nBecause the enzyme is a serine protease.", 6, N, 4, False),
    # --- letter style ---
    ("(C)", 4, L, 2, False),
    ("C)", 4, L, 2, False),
    ("C.", 4, L, 2, False),
    ("Answer: C", 4, L, 2, False),
    ("The answer is (C).", 4, L, 2, False),
    ("The answer is C", 4, L, 2, False),
    ("**C**", 4, L, 2, False),
    ("C", 4, L, 2, False),
    ("B. The alpha helix is stabilised by backbone hydrogen bonds.", 4, L, 1, False),
    ("The answer is B because the beta sheet is formed by backbone hydrogen bonds.", 4, L, 1, False),
    ("Looking at the choices, (D) fits best with the description of a kinase.", 4, L, 3, False),
    ("Answer: $F$", 6, L, 5, False),
    ("Option B", 4, L, 1, False),  # letter-style model using the option word
    ("Answer: 2", 4, L, 1, False),  # letter-style model answering with a number verdict
    # --- letters in number style only in explicit forms ---
    ("Answer: C", 6, N, 2, False),
    ("(B) Myoglobin", 6, N, 1, False),
    ("The answer is (D).", 6, N, 3, False),
    # --- Chinese and full-width ---
    ("选项3", 6, N, 2, False),
    ("答案：C", 4, L, 2, False),
    ("答案是选项3", 6, N, 2, False),
    ("正确答案是 C", 4, L, 2, False),
    ("正确选项为3", 6, N, 2, False),
    ("选3", 6, N, 2, False),
    ("答案：３", 6, N, 2, False),
    ("答案：Ｃ", 4, L, 2, False),
    ("根据血红蛋白的结构分析，它含有4个亚基，因此正确答案是选项２。", 6, N, 1, False),
    ("选项1错误，选项2错误，选项4是正确的。", 6, N, 3, False),
    ("The correct option is Option 4。因为该酶属于水解酶。", 6, N, 3, False),
    # --- abstention ---
    ("option 7", 6, N, None, True),
    ("The correct option is Option 7", 6, N, None, True),
    ("The correct option is Option 7. I am not sure about any of them.", 6, N, None, True),
    ("I don't know.", 6, N, None, True),
    ("I am not sure which of these proteins is correct.", 6, N, None, True),
    ("无法确定", 6, N, None, True),
    ("答案是选项7", 6, N, None, True),
    ("I'm not sure, but the correct option is Option 2.", 6, N, 1, False),  # chose one anyway
    # negatives that must read nothing are in NOTHING below (they also check the rule)
    ("The protein has 2 domains and binds 4 ligands. The correct option is Option 5.", 6, N, 4, False),
    (LONG_RAMBLE, 6, N, 1, False),
    ("20 amino acids are found in proteins, so option 3 is the best answer.", 6, N, 2, False),
    # --- priority among candidates ---
    ("The answer is A at first glance, but reconsidering the binding site, "
     "the final answer is B.", 4, L, 1, False),
    ("Option 1 is wrong, option 2 is wrong, option 3 is right.", 6, N, 2, False),
    ("Option 1 is incorrect because it is a lipid. Option 2 is not correct either. "
     "Option 4 (Hemoglobin) is the correct answer.", 6, N, 3, False),
    ("Option 1 is wrong. Option 2 is wrong. Therefore, option 3.", 6, N, 2, False),
    ("Option 1 is wrong since it is a lipid. Option 2 is incorrect. Option 4 matches the "
     "description of hemoglobin.", 6, N, 3, False),  # negated mentions are dropped
    ("It is not option 2; option 4 describes the heme pocket.", 6, N, 3, False),
    ("选项1错误，选项2不是蛋白质，选项3描述的是血红蛋白。", 6, N, 2, False),
    ("Option 2 is ruled out since it is a lipid; I'd go with option 5.", 6, N, 4, False),
    ("The correct option is Option 2. Wait, re-reading: the correct option is Option 4.", 6, N, 3,
     False),
    ("1. Hemoglobin is a tetramer.\n2. Myoglobin is a monomer.\n3. So the correct option is "
     "Option 2.", 6, N, 1, False),
    ("3\n\nExplanation: option 2 is a common misconception.", 6, N, 2, False),
    # --- think blocks ---
    ("<think>Option 1 looks plausible; the correct option is 1? No...</think>\n"
     "The correct option is Option 4.", 6, N, 3, False),
    ("<think>Maybe answer is B. Hmm.</think>Answer: D", 4, L, 3, False),
    ("<think>The answer is C since the enzyme is a hydrolase.</think>", 4, L, 2, False),
    ("<think>20 amino acids... 146 residues</think>\n\n**3**", 6, N, 2, False),
    # --- misc markdown / boxed ---
    ("So the final answer is $\\boxed{4}$.", 6, N, 3, False),
    ("Final Answer: \\boxed{C}", 4, L, 2, False),
    ("## Final answer\n\n**Option 6**", 6, N, 5, False),
]


# Replies that must yield no choice and no abstention, with the rule that should say so.
NOTHING = [
    # numbers that are not options
    ("There are 20 amino acids encoded by the standard genetic code.", 6, N, "none"),
    ("The protein has 146 residues.", 6, N, "none"),
    ("The optimal pH is 7.4 for this enzyme.", 6, N, "none"),
    ("This enzyme is EC 3.1.1.34, lipoprotein lipase.", 6, N, "none"),
    ("The structure was solved in 2019 by cryo-EM.", 6, N, "none"),
    ("The sequence MKTAYIAKQR contains the motif at positions 3-5 of P69905.", 6, N, "none"),
    ("The answer is 20 amino acids.", 6, N, "none"),
    ("The answer is 7.4, the physiological pH.", 6, N, "none"),  # not option 7 (abstain)
    ("The answer is 2,3-BPG, which lowers oxygen affinity.", 6, N, "none"),
    ("Answer: 3D structure prediction is required here.", 6, N, "none"),
    # letters that are words
    ("A protein that binds oxygen is called a globin.", 4, L, "none"),
    ("I think the protein is an enzyme.", 4, L, "none"),
    ("The answer: A protein kinase phosphorylates serine.", 4, L, "none"),
    ("E. coli expresses this protein abundantly.", 6, L, "none"),
    ("The answer is E. coli, which expresses it natively.", 6, L, "none"),
    ("The answer is a kinase.", 4, L, "none"),
    ("The answer is b-lactamase, a hydrolase.", 4, L, "none"),  # lowercase: a word, not option B
    # an opening number in a lettered prompt is more likely a list item than an answer
    ("2. The helix is stabilised by hydrogen bonds.", 4, L, "none"),
    # letters in number style outside explicit forms
    ("C. Hemoglobin", 6, N, "none"),
    ("Carbon (C) and nitrogen (N) are both present in the side chain.", 6, N, "none"),
    # out of range
    ("The correct option is Option 9", 6, N, "out_of_range"),
    ("8", 6, N, "out_of_range"),
    ("Answer: F", 4, L, "none"),  # a letter beyond the options is not read at all
    # undecidable
    ("Option 2 and option 4 both mention heme groups.", 6, N, "ambiguous"),
    ("1. Identify the protein family.\n2. Compare with the options.\n", 6, N, "none"),
    ("", 6, N, "none"),
]


@pytest.mark.parametrize("text,n,style,rule", NOTHING)
def test_reads_nothing(text, n, style, rule):
    assert extract_answer(text, n, style=style) == Extraction(None, False, rule)


@pytest.mark.parametrize("text,n,style,choice,abstained", CASES)
def test_extract(text, n, style, choice, abstained):
    got = extract_answer(text, n, style=style)
    assert (got.choice, got.abstained) == (choice, abstained), got


@pytest.mark.parametrize("text,n,style,rule", [
    ("The correct option is Option 3", 6, N, "verdict"),
    ("option 3", 6, N, "option_word"),
    ("3", 6, N, "bare_number"),
    ("(C)", 4, L, "letter"),
    ("答案是选项3", 6, N, "chinese"),
    ("option 7", 6, N, "abstain"),
    ("The correct option is Option 9", 6, N, "out_of_range"),
    ("nothing here", 6, N, "none"),
])
def test_rule_names(text, n, style, rule):
    assert extract_answer(text, n, style=style).rule == rule


def test_abstain_number_is_configurable():
    # With abstention disabled, "option 7" of six options is just out of range.
    got = extract_answer("The correct option is Option 7", 6, abstain_number=None)
    assert got == Extraction(None, False, "out_of_range")
    # A different abstention number is honoured exactly.
    assert extract_answer("option 5", 4, abstain_number=5).abstained
    assert extract_answer("option 7", 4, abstain_number=5).rule == "out_of_range"


def test_extraction_is_frozen_and_style_checked():
    got = extract_answer("3", 6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.choice = 1  # type: ignore[misc]
    with pytest.raises(ValueError):
        extract_answer("3", 6, style="roman")
