"""Answer extraction from realistic ProteinLMBench model replies.

Each row: (reply, n_options, style, expected 0-based choice or None, expected abstained).
"""

import dataclasses

import pytest

from proteinlm.bench.extract import Extraction, extract_answer
from proteinlm.bench.prompts import LETTER, OFFICIAL
from proteinlm.bench.published import published_extract
from proteinlm.records import MCQ

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


# ------------------------------------------------------------------------ 2 to 10 options
# Replies as models write them to the official and the letter prompt, for questions of 2 to 10
# options: verdict forms, "option 7" (an answer from 7 options up), echoes of the prompt.
ECHO_Q = "Which of the 20 standard amino acids has an indole side chain?"
ECHOES = {N: OFFICIAL.echoes(MCQ("q", ECHO_Q, ("a", "b"), 0)), L: LETTER.echoes(MCQ("q", ECHO_Q, ("a", "b"), 0))}

REPLIES = [
    # --- official prompt: the forms models write ---
    ("The correct option is: 1", 6, N, 0, False),
    ("The correct option is: 1.", 10, N, 0, False),
    ("**Option 4**", 6, N, 3, False),
    ("the correct option is option number 2", 6, N, 1, False),
    ("The correct option is option number 10.", 10, N, 9, False),
    ("Option (3)", 6, N, 2, False),
    ("The correct option is Option (3).", 6, N, 2, False),
    ("I choose option 5", 6, N, 4, False),
    ("I choose option 5 because ferritin stores iron.", 5, N, 4, False),
    ("答案是选项2", 6, N, 1, False),
    ("答案是选项10", 10, N, 9, False),
    ("The correct option is Option 10.", 10, N, 9, False),
    ("The correct option is Option 10: Tryptophan.", 10, N, 9, False),
    ("The correct option is **10**", 10, N, 9, False),
    ("Option 10 (Trypsin) is the correct answer.", 10, N, 9, False),
    ("The correct option is Option 1", 10, N, 0, False),
    ("The correct option is Option 9. Catalase converts hydrogen peroxide.", 10, N, 8, False),
    ("The answer is option 8 because tubulin forms microtubules.", 8, N, 7, False),
    ("Correct option: 6", 10, N, 5, False),
    ("I would choose option 3.", 7, N, 2, False),
    ("My answer is option 2.", 6, N, 1, False),
    ("Final answer: Option 10", 10, N, 9, False),
    ("10", 10, N, 9, False),
    ("10.", 10, N, 9, False),
    ("Option 10", 10, N, 9, False),
    ("The correct option is Option 10.\n\nExplanation: tryptophan has an indole ring, unlike "
     "option 1 (alanine).", 10, N, 9, False),
    ("Tryptophan is the only one with an indole ring, so the correct option is 10.", 10, N, 9, False),
    ("The correct option is Option 6. Option 10 is glutamine, which has an amide.", 10, N, 5, False),
    ("Therefore, option 9.", 9, N, 8, False),
    ("选项9是正确的。", 9, N, 8, False),
    ("正确答案是：选项 8", 8, N, 7, False),
    ("The correct option is option 4 (Na+/K+-ATPase).", 8, N, 3, False),
    # --- "option 7": abstention only below 7 options ---
    ("The correct option is Option 7.", 6, N, None, True),
    ("The correct option is Option 7.", 7, N, 6, False),
    ("The correct option is Option 7.", 10, N, 6, False),
    ("option 7", 8, N, 6, False),
    ("7", 9, N, 6, False),
    ("答案是选项7", 10, N, 6, False),
    ("I'm not sure. The correct option is Option 7.", 7, N, 6, False),
    ("I'm not sure, option 7.", 5, N, None, True),
    ("**Option 7**: Mitochondrion", 7, N, 6, False),
    # --- never the instruction's 7, never a number of the question ---
    ("Answer the multiple-choice question based solely on the provided context.\n"
     "If you are still unsure about the answer, output option 7.\nThe correct option is Option 3.", 6, N, 2, False),
    ("If you are still unsure about the answer, output option 7. Tryptophan has an indole ring.",
     10, N, None, False),
    ("Select only ONE correct option by its number. Start your response with 'The correct option is' "
     "followed by the option number ONLY. eg: \"The correct option is Option X.\"", 6, N, None, False),
    (ECHO_Q + " It is tryptophan.", 10, N, None, False),
    (ECHO_Q + "\nThe correct option is Option 10.", 10, N, 9, False),
    ("There are 20 standard amino acids; the correct option is Option 4.", 6, N, 3, False),
    ("The protein has 146 residues and 4 subunits.", 10, N, None, False),
    # --- out of range for the question, whatever its size ---
    ("The correct option is Option 10.", 9, N, None, False),
    ("The correct option is Option 11.", 10, N, None, False),
    # --- 3 and 4 options ---
    ("The correct option is: 3. Disulfide bonds link cysteines.", 3, N, 2, False),
    ("Option (2)", 3, N, 1, False),
    ("I choose option 4", 4, N, 3, False),
    ("The correct option is Option 4, insulin.", 4, N, 3, False),
    ("The correct option is Option 5.", 4, N, None, False),
    ("Answer: C", 3, L, 2, False),
    ("Answer: D", 3, L, None, False),
    ("(D) Insulin lowers blood glucose.", 4, L, 3, False),
    # --- letter prompt, A to J ---
    ("Answer: J", 10, L, 9, False),
    ("Answer: I", 10, L, 8, False),
    ("Answer: (I)", 9, L, 8, False),
    ("Answer: I think the answer is B.", 10, L, 1, False),
    ("(J)", 10, L, 9, False),
    ("J", 10, L, 9, False),
    ("J. Tryptophan", 10, L, 9, False),
    ("The answer is (G).", 7, L, 6, False),
    ("Answer: G", 7, L, 6, False),
    ("G. Mitochondrion", 7, L, 6, False),
    ("Answer: H", 8, L, 7, False),
    ("**Answer: E**", 10, L, 4, False),
    ("答案：J", 10, L, 9, False),
    ("Option J", 10, L, 9, False),
    ("I think the answer is J because trypsin cleaves after lysine.", 10, L, 9, False),
    ("The correct answer is D. Tryptophan has an indole ring.", 10, L, 3, False),
    ("Answer: K", 10, L, None, False),
    ("Answer: J", 9, L, None, False),
    ("Looking at the choices, (I) fits best: catalase decomposes peroxide.", 10, L, 8, False),
    ("Answer: B\n\nB is correct because hemoglobin binds oxygen cooperatively.", 2, L, 1, False),
]


def test_reply_table_is_large_and_covers_both_formats():
    assert len(REPLIES) >= 60
    assert {style for _, _, style, _, _ in REPLIES} == {N, L}
    assert {n for _, n, _, _, _ in REPLIES} >= set(range(2, 11))


@pytest.mark.parametrize("text,n,style,choice,abstained", REPLIES)
def test_replies_to_2_to_10_options(text, n, style, choice, abstained):
    got = extract_answer(text, n, style=style, echoes=ECHOES[style])
    assert (got.choice, got.abstained) == (choice, abstained), got


def test_the_instructions_7_is_read_only_without_echo_blanking():
    text = "If you are still unsure about the answer, output option 7."
    assert extract_answer(text, 6).abstained  # what a reader that does not know the prompt sees
    assert extract_answer(text, 6, echoes=ECHOES[N]) == Extraction(None, False, "none")


# ------------------------------------------------------------------------ published rule
PROMPT = OFFICIAL.render(MCQ("q", "Which amino acid has an indole side chain?", tuple("abcdefghij"), 9))


@pytest.mark.parametrize("decoded,n,expected", [
    # the prompt is found and removed: the first integer of the reply
    (PROMPT + " The correct option is Option 10.", 10, Extraction(9, False, "first_integer")),
    ("system\nYou are SmolLM\nuser\n" + PROMPT + "\nassistant\nOption 3, not 5", 10,
     Extraction(2, False, "first_integer")),
    # the published rule reads numbers that are no verdict ("20 amino acids")
    (PROMPT + " There are 20 amino acids; option 3.", 10, Extraction(None, False, "out_of_range")),
    (PROMPT + " It has 2 rings, so option 10.", 10, Extraction(1, False, "first_integer")),
    # decoding changed the prompt's text (here one space): nothing is removed and the first
    # integer is the "7" of "output option 7"; an answer only from 7 options up
    (PROMPT.replace("question: ", "question:") + " Option 10", 10, Extraction(6, False, "first_integer_unstripped")),
    (PROMPT.replace("question: ", "question:") + " Option 2", 6, Extraction(None, True, "abstain")),
    (PROMPT + " The correct option is", 10, Extraction(None, False, "none")),
])
def test_published_rule(decoded, n, expected):
    assert published_extract(decoded, PROMPT, n, 7) == expected
