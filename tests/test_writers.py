"""Output writers: Parquet columns, JSON lines, byte-identical files."""

import pyarrow.parquet as pq

from proteinlm.dataset.writers import write_parquet


def test_parquet_keeps_every_column_and_row(tmp_path):
    rows = [
        {"id": "a", "text": "Homodimer.", "accession": None},
        {"id": "b", "text": "蛋白质 <seq> M K </seq>", "accession": "P1", "ec": "3.1.1.34"},
    ]
    write_parquet(tmp_path / "x.parquet", rows)
    back = pq.read_table(tmp_path / "x.parquet").to_pylist()
    assert back == [dict(rows[0], ec=None), rows[1]]
    write_parquet(tmp_path / "y.parquet", rows)
    assert (tmp_path / "x.parquet").read_bytes() == (tmp_path / "y.parquet").read_bytes()
