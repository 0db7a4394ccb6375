"""Swiss-Prot entries written in the spirit of the real ones, shared by the UniProt text tests.

Comments are given as a parser delivers them: evidence tags, PubMed citations and topic prefixes
already removed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from proteinlm.records import ProteinEntry

SWISSPROT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "swissprot"

HBA = ProteinEntry(
    accessions=("P69905", "P01922", "Q1HDT5"),
    entry_name="HBA_HUMAN",
    sequence=(
        "MVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHFDLSHGSAQVKGHGKKVADALTNAVAHVDDMPNALSALSDLHAHKL"
        "RVDPVNFKLLSHCLLVTLAAHLPAEFTPAVHASLDKFLASVSTVLTSKYR"
    ),
    recommended_name="Hemoglobin subunit alpha",
    gene_names=("HBA1",),
    organism="Homo sapiens (Human)",
    taxon_id=9606,
    comments={
        "FUNCTION": ("Involved in oxygen transport from the lung to the various peripheral tissues.",),
        "SUBUNIT": ("Heterotetramer of two alpha chains and two beta chains.",),
        "TISSUE SPECIFICITY": ("Red blood cells.",),
        "PTM": (
            "The alpha chain of glycated hemoglobin is glycated at the N-terminal valine and at "
            "several lysine residues.",
        ),
        # Two texts for one topic: both must land in the same paragraph.
        "DISEASE": (
            "Heinz body anemias (HEIBAN) [MIM:140700]: Form of non-spherocytic hemolytic anemia of "
            "Dacie type 1. After splenectomy, which has little benefit, basophilic inclusions called "
            "Heinz bodies are demonstrable in the erythrocytes. Note=The disease is caused by variants "
            "affecting the gene represented in this entry.",
            "Alpha-thalassemia (A-THAL) [MIM:604131]: A form of thalassemia characterized by absent or "
            "reduced production of hemoglobin alpha chains. Note=The disease is caused by variants "
            "affecting the gene represented in this entry.",
        ),
        "SIMILARITY": ("Belongs to the globin family.",),  # not a section: must not appear
    },
)

P53 = ProteinEntry(
    accessions=("P04637",),
    entry_name="P53_HUMAN",
    sequence="MEEPQSDPSVEPPLSQETFSDLWKLLPENNVLSPLPSQAMDDLMLSPDDIEQWFTEDPGPDEAPRMPEAAPPVAPAPAAPTPAAPAPAPSWPLSS",
    recommended_name="Cellular tumor antigen p53",
    alternative_names=("Antigen NY-CO-13", "Tumor suppressor p53"),
    gene_names=("TP53", "P53"),
    organism="Homo sapiens (Human)",
    taxon_id=9606,
    comments={
        "FUNCTION": (
            "Multifunctional transcription factor that induces cell cycle arrest, DNA repair or "
            "apoptosis upon binding to its target DNA sequence. Acts as a tumor suppressor in many "
            "tumor types; induces growth arrest or apoptosis depending on the physiological "
            "circumstances and cell type.",
        ),
        "SUBUNIT": (
            "Forms homodimers and homotetramers. Binds DNA as a homotetramer. Interacts with AXIN1. "
            "Interacts (via C-terminus) with TAF1; when TAF1 is part of the TFIID complex.",
        ),
        "TISSUE SPECIFICITY": (
            "Ubiquitous. Isoforms are expressed in a wide range of normal tissues but in a "
            "tissue-dependent manner.",
        ),
        "INDUCTION": ("Up-regulated in response to DNA damage. Induced by ionizing radiation.",),
        "DOMAIN": (
            "The N-terminal and C-terminal disordered regions undergo liquid-liquid phase separation "
            "(LLPS) following homotetramerization and activation.",
        ),
        "PTM": (
            "Phosphorylated on Ser-15 upon ultraviolet irradiation; which is enhanced by interaction "
            "with BANP. Phosphorylated by HIPK1.",
            "Acetylation of Lys-382 by CREBBP enhances transcriptional activity.",
        ),
        "DISEASE": (
            "Li-Fraumeni syndrome (LFS) [MIM:151623]: Autosomal dominant familial cancer syndrome that "
            "in its classic form is defined by the existence of a proband affected by a sarcoma. "
            "Note=The disease is caused by variants affecting the gene represented in this entry.",
        ),
        "SUBCELLULAR LOCATION": (
            "Cytoplasm. Nucleus. Nucleus, PML body. Endoplasmic reticulum. Mitochondrion matrix.",
        ),
    },
)

# A kinase with two reactions; the second keeps the flat file's "Reaction=...; Xref=...; EC=..."
# layout, which the builders must reduce to the equation.
MK01 = ProteinEntry(
    accessions=("P28482",),
    entry_name="MK01_HUMAN",
    sequence="MAAAAAAGAGPEMVRGQVFDVGPRYTNLSYIGEGAYGMVCSAYDNVNKVRVAIKKISPFEHQTYCQRTLREIKILLRFRHENIIGINDIIRAPT",
    recommended_name="Mitogen-activated protein kinase 1",
    gene_names=("MAPK1",),
    organism="Homo sapiens (Human)",
    comments={
        "FUNCTION": (
            "Serine/threonine kinase which acts as an essential component of the MAP kinase signal "
            "transduction pathway.",
        ),
        "CATALYTIC ACTIVITY": (
            "ATP + L-seryl-[protein] = ADP + H(+) + O-phospho-L-seryl-[protein]",
            "Reaction=ATP + L-threonyl-[protein] = ADP + H(+) + O-phospho-L-threonyl-[protein]; "
            "Xref=Rhea:RHEA:46608, ChEBI:CHEBI:15378; EC=2.7.11.24",
        ),
        "SUBCELLULAR LOCATION": ("Cytoplasm, cytoskeleton, spindle. Nucleus.",),
        "DOMAIN": (
            "The TXY motif contains the threonine and tyrosine residues whose phosphorylation "
            "activates the MAP kinases.",
        ),
    },
)

# No comments, no gene, no organism, no recommended name: the bare minimum an entry can have.
BARE = ProteinEntry(accessions=("Q9XXX1",), entry_name="YXX1_UNKNOWN", sequence="MKTAYIAKQR")

# Some topics only, one of them empty or blank, texts without final period and with stray
# whitespace (as a TSV download may give), and old-style free-text catalytic activity.
PARTIAL = ProteinEntry(
    accessions=("P00750",),
    entry_name="TPA_HUMAN",
    sequence="MDAMKRGLCCVLLLCGAVFVSPSQEIHARFRRGARSYQVICRDEKTQMIYQQHQSWLRPVLRSNRVEYCWCNSGRAQCHSVPVKS",
    recommended_name="Tissue-type plasminogen activator",
    gene_names=("PLAT",),
    organism="Homo sapiens (Human).",
    comments={
        "FUNCTION": ("Converts the abundant, but inactive, zymogen plasminogen to plasmin",),
        "SUBUNIT": ("",),
        "INDUCTION": ("   ",),
        "CATALYTIC ACTIVITY": ("Specific cleavage of Arg-|-Val bond in\n  plasminogen to form plasmin.",),
        "SUBCELLULAR LOCATION": ("Secreted,  extracellular space.",),
    },
)

EXAMPLES = {"HBA": HBA, "P53": P53, "MK01": MK01, "BARE": BARE, "PARTIAL": PARTIAL}


def expected_index(accession: str, number: int, n: int) -> int:
    """The documented stable choice (the accession's SHA-512 as 16-bit big-endian words, word
    `number`, modulo n), recomputed here so the test pins the recipe itself."""
    digest = hashlib.sha512(accession.encode("utf-8")).digest()
    return int.from_bytes(digest[2 * number : 2 * number + 2], "big") % n


def norm(text: str) -> str:
    """Whitespace collapsed and flat-file "Note=" markers dropped, as the builders do."""
    return " ".join(re.sub(r"(?:^|(?<=\s))Note=", "", text).split())


def equation(text: str) -> str:
    """A catalytic-activity text reduced to its reaction equation."""
    text = norm(text)
    if text.startswith("Reaction="):
        text = re.split(r";\s*(?:Xref|EC|Evidence|PhysiologicalDirection)=", text[9:])[0]
    return text.rstrip(" .;")


def probe(text: str, topic: str) -> str:
    """A distinctive slice of a comment text that must appear verbatim in any output using it.

    The first character is skipped ("Involved ..." may become "It is involved ...") and the final
    period too (a text without one gets one); reactions are reduced to their equation.
    """
    text = equation(text) if topic == "CATALYTIC ACTIVITY" and " = " in text else norm(text).rstrip(".")
    return text[1:31] if len(text) > 31 else text[1:]


def seq_from_text(text: str, tags: tuple[str, str] = ("<seq>", "</seq>"), sep: str = " ") -> list[str]:
    """Every sequence written in `text` with these tags, read back to plain residues."""
    found = []
    pattern = re.escape(tags[0]) + "(.*?)" + re.escape(tags[1])
    for inner in re.findall(pattern, text, flags=re.S):
        if sep:
            assert inner.startswith(sep) and inner.endswith(sep), inner[:20]
            inner = inner[len(sep) : -len(sep)]
            parts = inner.split(sep)
            assert all(len(p) == 1 for p in parts), "one residue between separators"
            found.append("".join(parts))
        else:
            found.append(inner)
    return found


def real_entries():
    """(file, entry) for every entry of every real Swiss-Prot file, or a reason to skip."""
    if not SWISSPROT_DATA.is_dir():
        return None, f"no real data at {SWISSPROT_DATA}"
    try:
        from proteinlm.sources.uniprot import parse
    except ImportError as exc:
        return None, f"UniProt parser not importable: {exc}"
    out = []
    for path in sorted(p for p in SWISSPROT_DATA.iterdir() if p.is_file()):
        out.extend((path.name, e) for e in parse(path))
    return out, ""
