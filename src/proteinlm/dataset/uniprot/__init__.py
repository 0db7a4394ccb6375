"""Swiss-Prot/UniProt (+ ENZYME) → pretraining documents, topic SFT tasks and Enzyme Chain-of-Thought."""
