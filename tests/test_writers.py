"""Output writers: Parquet columns, JSON lines, byte-identical files."""

import pyarrow.parquet as pq

from proteinlm.dataset.steps.writers import write_parquet


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


def test_parquet_columns_of_rows_with_any_keys():
    """Columns are every key in first-seen order, None where a row lacks one, whether the rows
    share their keys (transposed at once) or not (a row with other, fewer or more keys)."""
    from proteinlm.dataset.steps.writers import _columns

    def slow(rows):
        keys = list(dict.fromkeys(k for row in rows for k in row))
        return {k: [row.get(k) for row in rows] for k in keys}

    same = [{"id": str(i), "n": i, "t": None if i % 3 else "x"} for i in range(50)]
    cases = [[], [{}], [{"a": 1}], [{"a": 1}, {"a": 2}], same, [dict(reversed(list(r.items()))) for r in same],
             same + [{"id": "z", "n": 0, "u": 1}], same + [{"id": "z"}], same + [{"id": "z", "n": 0, "t": "", "u": 2}],
             [{"b": 1, "a": 2}, {"a": 3, "b": 4}], [{"a": 1}, {"b": 2}]]  # fmt: skip
    for rows in cases:
        got = _columns(rows)
        assert got == slow(rows) and list(got) == list(slow(rows)), rows
        assert all(type(v) is list for v in got.values())


def _rows_module():
    import os

    import pytest

    try:
        from proteinlm.dataset import _rows
    except ImportError:
        if os.environ.get("PROTEINLM_REQUIRE_C") == "1":  # CI: the extension must have been built
            raise
        pytest.skip("the C row writer is not built (no compiler at install)")
    return _rows


def _python_layouts(rows, exports):
    import json

    from proteinlm.dataset.steps.sft_exports import export_parts
    from proteinlm.dataset.steps.writers import json_lines

    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if not exports:
        return lines, b"", b""
    encoded: list[dict] = []
    assert json_lines(rows, repeated=("input",), keep=encoded).encode("utf-8") == lines
    return (lines, *export_parts(rows, encoded))


def test_compiled_row_writer_equals_json_dumps_and_the_python_exports():
    """encode_rows writes what json.dumps and export_parts write, or declines (None): checked on
    generated rows with every kind of character JSON escapes, non-ASCII text and value types."""
    import random

    encode_rows = _rows_module().encode_rows
    rng = random.Random(5)
    pieces = ["a", "Homodimer.", " ", "\n", "\t", '"', "\\", "\x00", "\x1f", "\x7f", "é", "蛋白质", "\U0001f600",
              "<seq> M K </seq>", "\u2028", "/", "%s", "\r\b\f"]  # fmt: skip

    def text(k: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, k)))

    taken = declined = 0
    for _ in range(3000):
        n = rng.randint(0, 4)
        exports = rng.random() < 0.6
        rows = []
        for _ in range(n):
            row = {"id": text(3) if rng.random() < 0.9 else rng.choice([None, 7, True])}
            row |= {"task": "function", "instruction": text(4), "input": text(6), "output": text(6)}
            if rng.random() < 0.3:
                row["ec"] = rng.choice([None, "3.1.1.34", 12, False, -3])
            if rng.random() < 0.02:
                row["score"] = 0.5  # a float: declined
            rows.append(row)
        got = encode_rows(rows, exports)
        if got is None:
            declined += 1
            continue
        taken += 1
        assert got == _python_layouts(rows, exports), rows
    assert taken > 1500 and declined > 100


def test_compiled_row_writer_with_long_texts_shared_between_rows():
    """Long texts that rows share (an entry's sequence in each of its tasks) are scanned once per
    call and copied after: the same output, whether a text is clean or needs escapes, when texts
    of equal length differ, and in calls that follow each other (the memory of a text may hold
    another one by then)."""
    import random

    encode_rows = _rows_module().encode_rows
    rng = random.Random(9)
    alphabet = ["M", "K", " ", "<seq>", "é", '"', "\n", "\\", "x" * 40]
    for _ in range(300):
        pool = ["".join(rng.choice(alphabet) for _ in range(rng.randint(10, 60))) for _ in range(rng.randint(1, 6))]
        pool += ["M" * 70, "M" * 69 + "K", "M" * 69 + '"']  # equal lengths, one needing an escape
        rows = [
            {"id": f"t-{i}", "task": "function", "instruction": rng.choice(pool).strip() or "Describe.",
             "input": rng.choice(pool).strip() or "<seq> M </seq>", "output": rng.choice(pool)}
            for i in range(rng.randint(1, 12))
        ]  # fmt: skip
        got = encode_rows(rows, True)
        if got is not None:
            assert got == _python_layouts(rows, True), rows


def test_compiled_row_writer_declines_what_it_cannot_write_alike():
    encode_rows = _rows_module().encode_rows
    row = {"id": "a", "instruction": "Describe.", "input": "<seq> M </seq>", "output": "Binds."}
    assert encode_rows([row], True) == _python_layouts([row], True)
    assert encode_rows([dict(row, instruction=" Describe.")], True) is None  # strip() would change the turn
    assert encode_rows([dict(row, input="<seq> M </seq>\n")], True) is None
    assert encode_rows([dict(row, input="")], True) is None
    assert encode_rows([dict(row, output="\ud800")], False) is None  # a lone surrogate has no UTF-8 form
    assert encode_rows([{1: "x"}], False) is None and encode_rows([{"a": 1.5}], False) is None
    assert encode_rows([dict(row, input=" x")], False) == _python_layouts([dict(row, input=" x")], False)
    assert encode_rows([], True) == (b"", b"", b"")


def test_encoded_rows_same_with_and_without_the_compiled_writer(monkeypatch):
    from proteinlm.dataset.steps import sft_exports

    rows = [{"id": f"t-{i}", "task": "t", "instruction": "Say é.", "input": "<seq> M </seq>", "output": f'"{i}"\n',
             "accession": None} for i in range(5)]  # fmt: skip
    rows.append(dict(rows[0], instruction=" x "))  # the chat turn is stripped: the Python writers
    for exports in (False, True):
        fast = sft_exports.encoded_rows(rows, exports)
        monkeypatch.setattr(sft_exports, "_c_encode_rows", None)
        assert sft_exports.encoded_rows(rows, exports) == fast == _python_layouts(rows, exports)
        monkeypatch.undo()


def test_compiled_row_writer_escapes_every_character_at_every_offset():
    """The writer skips clean text 8 bytes at a time: each ASCII character (and a non-ASCII one)
    at each offset of a word, alone and between others, is written as json.dumps writes it."""
    import json

    encode_rows = _rows_module().encode_rows
    for c in [chr(i) for i in range(0x80)] + ["é", "\u4e00"]:
        for offset in range(17):
            for text in ("a" * offset + c + "a" * 9, "a" * offset + c, c * (offset + 1)):
                want = (json.dumps({"t": text}, ensure_ascii=False) + "\n").encode("utf-8")
                assert encode_rows([{"t": text}], False)[0] == want, repr(text)


def test_string_arrays_same_with_and_without_the_compiled_column(monkeypatch):
    import random

    import pyarrow as pa

    from proteinlm.dataset.steps import writers

    _rows_module()
    rng = random.Random(2)
    pieces = ["a", "", "蛋白质", "é", "\U0001f600", "<seq> M K </seq>", "\n"]
    columns = [["".join(rng.choice(pieces) for _ in range(rng.randint(0, 5))) for _ in range(rng.randint(0, 30))]
               for _ in range(300)]  # fmt: skip
    columns += [["a", None], ["a", 3], []]
    for values in columns:
        fast = writers._string_array(values)
        monkeypatch.setattr(writers, "_c_string_column", None)
        slow = writers._string_array(values)
        monkeypatch.undo()
        if slow is None:
            assert fast is None
            continue
        assert fast.equals(slow) and fast.to_pylist() == values == pa.array(values, pa.string()).to_pylist()


def test_file_info_hashes_as_the_libraries_do(tmp_path):
    import hashlib

    import xxhash

    from proteinlm.dataset.steps.writers import file_info, output_info

    for size in (0, 1, (1 << 20) - 1, 1 << 20, (3 << 20) + 17):  # empty, block edges, several blocks
        data = bytes((i * 7919) % 251 for i in range(size))
        f = tmp_path / "sub" / f"f{size}.bin"
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(data)
        assert file_info(f) == {"path": str(f), "bytes": size, "sha256": hashlib.sha256(data).hexdigest()}
        assert output_info(f, tmp_path) == {
            "path": f"sub/f{size}.bin", "bytes": size, "xxh3_128": xxhash.xxh3_128(data).hexdigest()
        }
