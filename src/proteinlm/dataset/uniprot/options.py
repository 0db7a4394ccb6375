"""The options of `build uniprot`, apart from its pipeline: the chunk workers (`chunks.py`) read
them, and the pipeline (`pipeline.py`) runs the chunks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class UniprotBuildOptions:
    inputs: list[str]
    out: str
    enzyme: list[str] = field(default_factory=list)  # enzyme.dat file(s)
    sifts_enzyme: str | None = None
    workers: int = 1
    shard_entries: int = 5000
    val_fraction: float = 0.02
    seed: int = 0
    per_ec: int = 20
    tokenizer: str = "smollm2"
    seq_open: str = "<seq>"
    seq_close: str = "</seq>"
    seq_sep: str = " "
    formats: tuple[str, ...] = ("jsonl.gz", "parquet")
    tasks: tuple[str, ...] | None = None  # None: every UniProt topic task
    allow_empty: bool = False  # an input without entries is not an error

    def fingerprint(self) -> dict:
        """What makes two builds comparable (workers do not change the output)."""
        d = asdict(self)
        d.pop("workers")
        d.pop("allow_empty")
        d["formats"] = list(self.formats)
        return d
