"""The set of ids a build has seen (accessions, to keep one copy of a protein given twice), in
8 bytes per id: a set of strings takes ~90 bytes per accession, 51 MB for a Swiss-Prot release.

Ids are kept as 64-bit hashes (Python's `hash`, stable within the process that holds the set): a
sorted numpy array plus a small set of recent ones, merged into it when it fills. Two distinct ids
collide with probability ~n²/2⁶⁵ (10⁻⁸ for Swiss-Prot's 572k accessions), which would drop one of
them as a duplicate.
"""

from __future__ import annotations

import numpy as np

_RECENT = 1 << 15  # recent hashes held as a Python set (fast to grow) before each merge


class SeenIds:
    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.int64)
        self._recent: set[int] = set()

    def add(self, key: str) -> bool:
        """Remember `key`; False if it was seen before."""
        h = hash(key)
        if h in self._recent:
            return False
        s = self._sorted
        if len(s):
            i = int(np.searchsorted(s, h))
            if i < len(s) and s[i] == h:
                return False
        self._recent.add(h)
        if len(self._recent) >= _RECENT:
            self._sorted = np.union1d(s, np.fromiter(self._recent, dtype=np.int64, count=len(self._recent)))
            self._recent.clear()
        return True

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)
