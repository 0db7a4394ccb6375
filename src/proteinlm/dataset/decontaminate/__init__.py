"""Decontamination: benchmark n-grams found in a build's shards (report, or a copy without them)."""
