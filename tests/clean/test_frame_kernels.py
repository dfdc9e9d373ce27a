"""The Arrow and numpy kernels of the cleaning's frame agree with the plain operations
they replace: str columns from codes, takes file by file, run-length codes of a str
column, and the search for bytes that JSON escapes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dnmarkets.clean.partition import _coded, _combine, _json_escapes, _RawFile
from dnmarkets.clean.schemas import _distinct, str_codes

VALUES = [
    ("g", "ml", "unit"),
    ("agora",),
    ("data/raw/x/2014-01-01_listings.csv.gz", "data/raw/x/2014-01-02_listings.csv.gz"),
    ("", "é", "日本", 'a"b'),
]


@pytest.mark.parametrize("seed", range(30))
def test_coded_columns_equal_a_take_from_the_values(seed):
    rng = np.random.default_rng(seed)
    values = VALUES[seed % len(VALUES)]
    # long sorted columns (seed % 4 == 1) have few long runs: the run path
    n = int(rng.integers(4000, 20000)) if seed % 4 == 1 else int(rng.integers(0, 200))
    low = -1 if seed % 3 else 0  # with and without missing values
    codes = rng.integers(low, len(values), n)
    if seed % 2:  # runs, as a file's rows come
        codes = np.sort(codes)
    expected = [None if c < 0 else values[c] for c in codes]
    got = _coded(values, codes)
    assert got.dtype == "str"
    assert [None if pd.isna(v) else v for v in got] == expected
    got.array._pa_array.validate(full=True)


def _raw(i: int, frame: pd.DataFrame) -> _RawFile:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    day = dt.date(2014, 1, 1 + i)
    return _RawFile(Path(f"f{i}"), f"f{i}", "listings", day, list(frame.columns), table, {})


@pytest.mark.parametrize("seed", range(10))
def test_takes_file_by_file_equal_a_take_of_the_whole_table(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 30, 4)
    raws = [
        _raw(i, pd.DataFrame({"a": [f"{i}-{r}" for r in range(k)], "b": ["x"] * k}, dtype="str"))
        for i, k in enumerate(sizes)
    ]
    frame = _combine(raws)
    assert frame.files is not None
    whole = pa.concat_tables([r.columns for r in raws])
    n = int(sizes.sum())
    for positions in (np.sort(rng.integers(0, n, n)), rng.permutation(n), np.array([], int)):
        positions = positions.astype(np.int64)
        taken = frame.take(positions, {"a", "_row"})
        assert taken.table.column_names == ["a"]
        assert taken.table.column("a").to_pylist() == whole.column("a").take(positions).to_pylist()
        assert taken.rows["_row"].tolist() == frame.rows["_row"][positions].tolist()


def test_files_with_other_columns_are_taken_from_the_whole_table():
    raws = [
        _raw(0, pd.DataFrame({"a": ["p", "q"], "b": ["x", "y"]}, dtype="str")),
        _raw(1, pd.DataFrame({"a": ["r"]}, dtype="str")),  # no column b: missing there
    ]
    frame = _combine(raws)
    assert frame.files is None
    taken = frame.take(np.array([2, 0]))
    assert taken.table.to_pylist() == [{"a": "r", "b": None}, {"a": "p", "b": "x"}]


@pytest.mark.parametrize("seed", range(20))
def test_run_codes_partition_values_as_factorize_does(seed):
    rng = np.random.default_rng(seed)
    words = ["a", "b", "", "é", None]
    values = [words[i] for i in rng.integers(0, len(words), int(rng.integers(0, 60)))]
    if seed % 2:
        values = sorted(values, key=lambda v: (v is None, v or ""))
    codes, distinct = str_codes(pa.array(values, type=pa.large_string()))
    expected, uniques = pd.factorize(pd.Series(values, dtype=object))
    assert (codes < 0).tolist() == (expected < 0).tolist()
    named = [None if c < 0 else distinct[int(c)].as_py() for c in codes]
    assert named == values
    assert sorted(distinct.to_pylist()) == sorted(uniques.tolist())


@pytest.mark.parametrize("seed", range(12))
def test_distinct_values_are_those_of_a_plain_unique(seed):
    # long runs (one file's snapshot), short runs and none: each path of _distinct
    rng = np.random.default_rng(seed)
    words = ["agora/2014-01-01", "agora/2014-01-02", "", "é", None, "x" * 40]
    run = [1, 5, 200, 5000][seed % 4]
    picks = np.repeat(rng.integers(0, len(words), int(rng.integers(1, 40))), run)
    values = pa.array([words[i] for i in picks], type=pa.large_string())
    expected = {v for v in values.to_pylist() if v is not None}
    found = _distinct(pa.chunked_array([values.slice(0, 3), values.slice(3)]))
    assert sorted(found.to_pylist()) == sorted(expected)
    assert found.null_count == 0


HOSTILE = ["plain", "é 日本", 'quote "', "back\\slash", "tab\t", "\x00", "\x7f", "\u2028", ""]


@pytest.mark.parametrize("seed", range(20))
def test_json_escapes_are_found_as_json_dumps_escapes(seed):
    rng = np.random.default_rng(seed)
    values = [None if rng.random() < 0.1 else HOSTILE[i] for i in rng.integers(0, 9, 6)]
    array = pa.array(values, type=pa.large_string())
    for start in range(len(values) + 1):  # slices: offsets into the data buffer
        part = array.slice(start)
        escaped = [json.dumps(v, ensure_ascii=False)[1:-1] != v for v in values[start:] if v]
        expected = any(escaped)
        assert _json_escapes(part) == expected
