"""PMC selection: the articles cited by PDB entries (SIFTS pdb_pubmed.csv), their PMIDs mapped to
PMCIDs through NCBI's PMC-ids.csv."""

from __future__ import annotations

import csv

from proteinlm.dataset.literature.table_files import open_table
from proteinlm.errors import SourceError


def pmc_selection(pdb_pubmed: list[str], pmc_ids: list[str], skipped: list[str]) -> tuple[set[str], dict]:
    """PMIDs cited by PDB entries (SIFTS), mapped to PMCIDs through PMC-ids.csv: the set holds
    both the PMCIDs and the PMIDs, so an article matches by either."""
    from proteinlm.sources.sifts import parse_pdb_pubmed

    pmids = {pmid for path in pdb_pubmed for _, _, pmid in parse_pdb_pubmed(path, on_error=lambda e: skipped.append(str(e)))}
    keep: set[str] = set(pmids)
    mapped = 0
    for path in pmc_ids:
        try:
            with open_table(path) as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or "PMCID" not in reader.fieldnames or "PMID" not in reader.fieldnames:
                    raise SourceError(f"{path}: not a PMC-ids.csv (no PMCID/PMID columns in the header)")
                for row in reader:
                    pmid = (row.get("PMID") or "").strip()
                    pmcid = (row.get("PMCID") or "").strip()
                    if pmid in pmids and pmcid:
                        keep.add(pmcid)
                        mapped += 1
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
            raise SourceError(f"{path}: cannot read (truncated or corrupt?): {exc}") from exc
    return keep, {"pdb_cited_pmids": len(pmids), "pmcids_mapped": mapped}
