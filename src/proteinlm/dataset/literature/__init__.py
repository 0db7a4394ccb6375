"""PubMed, PMC (PDB-cited), seq-in-text and bilingual pipelines → pretraining documents."""
