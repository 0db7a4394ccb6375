"""What ECoT needs besides the entries, read once per build: ENZYME's active ECs, its DR
accession → EC map and its transfers, and SIFTS' accession → EC map. The chunk stage needs only
`mapped` (which accessions can give an example); the ECoT reduce stage needs all of it.

It is small (enzyme.dat is ~8k entries), so it is held in memory, and pickled for the datatrove
stages (`stages.py`) so that each task need not parse ENZYME again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from proteinlm.dataset.engine.build_state import EXPECTED, require_records
from proteinlm.dataset.uniprot import ecot

if TYPE_CHECKING:
    from proteinlm.dataset.uniprot.options import UniprotBuildOptions
    from proteinlm.records import Instruction, ProteinEntry


@dataclass
class EnzymeContext:
    enzymes: dict = field(default_factory=dict)  # EC -> active Enzyme
    dr_map: dict = field(default_factory=dict)  # accession -> ECs (ENZYME DR lines)
    transfers: dict = field(default_factory=dict)  # transferred EC -> its targets
    sifts: dict | None = None  # accession -> ECs (SIFTS), when given

    @property
    def mapped(self) -> frozenset[str]:
        """Accessions that can get an EC from ENZYME or SIFTS (besides an entry's own ECs)."""
        return frozenset(self.dr_map) | frozenset(self.sifts or ())

    def examples(self, opts: UniprotBuildOptions, candidates: Iterable[ProteinEntry], store) -> Iterator[Instruction]:
        """The ECoT reduce: every candidate entry seen, at most `per_ec` examples per EC kept
        (the same whatever order the candidates come in), emitted by EC then accession."""
        return ecot.ecot_examples(candidates, self.enzymes, self.dr_map, self.sifts, transfers=self.transfers,
                                  per_ec=opts.per_ec, seed=opts.seed, store=store)


def enzyme_context(opts: UniprotBuildOptions, skipped: list[str]) -> EnzymeContext:
    """Read the build's ENZYME and SIFTS files; skipped records go to `skipped`. An ENZYME file
    without entries stops the build (unless `allow_empty`)."""
    from proteinlm.sources import enzyme as enzyme_source

    ctx = EnzymeContext()
    if opts.enzyme:
        per_file = {path: list(enzyme_source.parse(path, on_error=lambda e: skipped.append(str(e)))) for path in opts.enzyme}
        if not opts.allow_empty:
            require_records({p: len(es) for p, es in per_file.items()}, EXPECTED["enzyme"], skipped)
        entries = [e for es in per_file.values() for e in es]
        ctx.enzymes, ctx.dr_map = ecot.ec_index(entries)
        ctx.transfers = ecot.transfer_index(entries)
    if opts.sifts_enzyme:
        ctx.sifts = ecot.load_sifts_enzyme(opts.sifts_enzyme)
    return ctx
