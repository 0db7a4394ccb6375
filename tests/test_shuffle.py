"""Shuffling options moves the answer and every option number the explanation cites."""

from proteinlm.benchgen.shuffle import cited_numbers, renumber_citations, seeded_order, shuffle_mcq, shuffle_seeded
from proteinlm.records import MCQ


def _q(n=6, answer=2, explanation="Option 3 is right: options 1 and 2 are enzymes, option (4) is a kinase; 20 amino acids."):
    return MCQ(id="q1", question="Which?", options=tuple(f"text {i + 1}" for i in range(n)), answer=answer,
               explanation=explanation)


def test_answer_and_cited_numbers_follow_the_options():
    q = _q()
    order = [5, 4, 3, 2, 1, 0]  # reversed: old k -> new 7 - k
    s = shuffle_mcq(q, order)
    assert s.options[s.answer] == q.options[q.answer] == "text 3"
    assert s.answer == 3
    assert s.explanation == "Option 4 is right: options 6 and 5 are enzymes, option (3) is a kinase; 20 amino acids."
    # every cited number still names the same option text
    for old, new in zip(cited_numbers(q.explanation), cited_numbers(s.explanation)):
        assert q.options[old - 1] == s.options[new - 1]


def test_ten_options_and_forms_models_write():
    q = _q(n=10, answer=9, explanation="The correct option is option number 10; option 1, 2 or 3 are wrong. 选项10对。")
    order = list(range(10))[::-1]
    s = shuffle_mcq(q, order)
    assert s.answer == 0 and s.options[0] == "text 10"
    assert s.explanation == "The correct option is option number 1; option 10, 9 or 8 are wrong. 选项1对。"


def test_numbers_that_are_no_option_stay():
    assert renumber_citations("option 12 and 7 residues", {1: 2, 2: 1}) == "option 12 and 7 residues"
    assert renumber_citations("Option 1 binds 2 ions", {1: 2, 2: 1}) == "Option 2 binds 2 ions"


def test_seeded_order_is_stable_and_depends_on_seed_and_id():
    assert seeded_order(6, 0, "a") == seeded_order(6, 0, "a")
    orders = {tuple(seeded_order(6, seed, key)) for seed in range(5) for key in "abcde"}
    assert len(orders) > 10
    s = shuffle_seeded(_q(), 7)
    assert sorted(s.options) == sorted(_q().options) and s.options[s.answer] == "text 3"
