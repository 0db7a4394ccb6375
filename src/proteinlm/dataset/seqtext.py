"""Sequences written inside text, in the seeds' format: "<seq> M K T </seq>"."""

from __future__ import annotations


def seq_to_text(seq: str, open_tag: str = "<seq>", close_tag: str = "</seq>", sep: str = " ") -> str:
    """`seq_to_text("MKT") == "<seq> M K T </seq>"`: one `sep` between residues and around tags.

    The sequence is written as given (no case change, no filtering) so that text and record stay
    comparable residue for residue; an empty tag is left out rather than leaving a stray `sep`.
    """
    body = sep.join(seq)  # str.join iterates the residues: no list of them is made
    if open_tag:
        body = open_tag + sep + body if body else open_tag
    if close_tag:
        body = body + sep + close_tag if body else close_tag
    return body
