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


def _json_dumps_layouts(rows, exports):
    """What encoded_rows must write, from json.dumps alone: the lines and the alpaca/chat parts."""
    import json

    def dumps(x):
        return json.dumps(x, ensure_ascii=False).encode("utf-8")

    lines = b"".join(dumps(r) + b"\n" for r in rows)
    if not exports:
        return lines, b"", b""
    alpaca = b",\n".join(dumps({k: r[k] for k in ("instruction", "input", "output")}) for r in rows)
    chat = b"".join(
        dumps({"id": r["id"], "messages": [{"role": "user", "content": f"{r['instruction']}\n{r['input']}".strip()},
                                           {"role": "assistant", "content": r["output"]}]}) + b"\n"
        for r in rows
    )  # fmt: skip
    return lines, alpaca, chat


def test_encoded_rows_equal_json_dumps():
    """encoded_rows (orjson for the values, json's separators) writes what json.dumps writes, on
    generated rows with every kind of character JSON escapes, non-ASCII text and value types."""
    import random

    from proteinlm.dataset.steps.sft_exports import encoded_rows

    rng = random.Random(5)
    pieces = ["a", "Homodimer.", " ", "\n", "\t", '"', "\\", "\x00", "\x1f", "\x7f", "é", "蛋白质", "\U0001f600",
              "<seq> M K </seq>", "\u2028", "/", "%s", "%b", "\r\b\f"]  # fmt: skip

    def text(k: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, k)))

    for _ in range(3000):
        exports = rng.random() < 0.6
        rows = []
        for _ in range(rng.randint(0, 4)):
            row = {"id": text(3) if rng.random() < 0.9 else rng.choice([None, 7, True, 2**70])}
            row |= {"task": "function", "instruction": text(4), "input": text(6), "output": text(6)}
            if rng.random() < 0.3:
                row["ec"] = rng.choice([None, "3.1.1.34", 12, False, -3, 0.1, 1e16, ["a", 1], {"k": "v"}])
            if rng.random() < 0.05:
                row["%s key"] = "x"
            rows.append(row)
        assert encoded_rows(rows, exports) == _json_dumps_layouts(rows, exports), rows


def test_json_values_escape_every_character_as_json_does():
    """orjson's string escapes are json's (ensure_ascii=False) for every character but lone
    surrogates, which neither can write as UTF-8."""
    import json

    import pytest

    from proteinlm.dataset.steps.writers import json_lines, json_value

    for code in list(range(0xD800)) + list(range(0xE000, 0x110000, 7)):
        text = "a" + chr(code) + "b"
        assert json_value(text) == json.dumps(text, ensure_ascii=False).encode("utf-8"), hex(code)
    with pytest.raises(TypeError):  # orjson.JSONEncodeError; json's text of it has no UTF-8 form either
        json_lines([{"t": "\ud800"}])
    assert json_lines([]) == b""


def test_string_arrays_equal_pyarrow_of_the_list():
    import random

    import pyarrow as pa

    from proteinlm.dataset.steps import writers

    rng = random.Random(2)
    pieces = ["a", "", "蛋白质", "é", "\U0001f600", "<seq> M K </seq>", "\n"]
    columns = [["".join(rng.choice(pieces) for _ in range(rng.randint(0, 5))) for _ in range(rng.randint(0, 30))]
               for _ in range(300)]  # fmt: skip
    for values in columns:
        made = writers._string_array(values)
        assert made.equals(pa.array(values, pa.string())) and made.to_pylist() == values
    assert writers._string_array(["a", None]) is None and writers._string_array(["a", 3]) is None


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
