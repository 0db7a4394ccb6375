"""Where ECoT keeps its candidates until the last entry has been read.

ECoT sampling keeps up to `per_ec` entries per EC number, and the kept ones are known only at the
end: about 6,000 ECs x 20 = 120,000 entries for a Swiss-Prot release, ~200 MB as Python objects
even slimmed. A build writes them to a scratch file instead and keeps only their offsets, so its
memory does not grow with the ECs the input names. Evicted candidates stay in the file (appending
is all it does); the file is removed when the build ends.
"""

from __future__ import annotations

import pickle
from pathlib import Path


class MemoryStore:
    """The candidates themselves, as keys (what tests and small runs need)."""

    def put(self, record):
        return record

    def get(self, key):
        return key

    def close(self) -> None:
        pass


class DiskStore:
    """Pickled candidates appended to a scratch file; `put` gives the offset that `get` reads back.
    The file is our own, written and read by one run, so unpickling it is safe."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w+b")  # a left-over file from a killed run is overwritten
        self._end = 0

    def put(self, record) -> tuple[int, int]:
        data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        self._fh.seek(self._end)
        self._fh.write(data)
        key = (self._end, len(data))
        self._end += len(data)
        return key

    def get(self, key: tuple[int, int]):
        offset, size = key
        self._fh.seek(offset)
        return pickle.loads(self._fh.read(size))

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> DiskStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
