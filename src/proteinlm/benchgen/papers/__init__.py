"""Benchmark questions from papers: chunk -> generate -> index -> coherence -> evidence -> re-answer
-> dedup -> shuffle -> select -> write (see README.md in this folder and `pipeline.py`)."""
