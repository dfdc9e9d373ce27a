"""The integer kernels of the clean tables' order and of duplicate detection agree with
the Arrow multi-key sort and pandas' DataFrame.duplicated they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dnmarkets.clean.partition import _kept_in_order

ALPHABET = ["a", "b", "B", "é", "Z", "10", "9", "", "ab", "a b", "😀", "\u00a0", "e\u0301"]


@pytest.mark.parametrize("seed", range(40))
def test_order_matches_the_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 80))
    names = pd.Series([ALPHABET[i] for i in rng.integers(0, len(ALPHABET), n)], dtype="str")
    files = pd.Series(rng.integers(0, 4, n))
    days = np.array(["2014-01-01", "2014-01-02", "2014-01-05", "2015-03-01"], "datetime64[D]")
    day = pd.Series(days[files.to_numpy()])
    row = pd.Series(np.arange(1, n + 1, dtype=np.int64))
    keep = rng.random(n) < 0.8

    kept = np.flatnonzero(keep)
    keys = pa.table({"day": day.to_numpy(), "name": pa.array(names), "row": row.to_numpy()})
    keys = keys.take(pa.array(kept))
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in keys.column_names])
    assert _kept_in_order(keep, day, names, row).tolist() == kept[order.to_numpy()].tolist()


def test_missing_names_take_the_general_path():
    names = pd.Series(["b", None, "a", None], dtype="str")
    day = pd.Series(np.array(["2014-01-01"] * 4, "datetime64[D]"))
    order = _kept_in_order(np.ones(4, bool), day, names, pd.Series([1, 2, 3, 4]))
    assert order.tolist() == [2, 0, 1, 3]  # nulls last, as Arrow sorts them


@pytest.mark.parametrize("seed", range(20))
def test_order_of_files_in_day_order_matches_the_reference(seed):
    """Rows in (day, row) order, as a partition's files come: the two 16-bit radix
    sorts give the multi-key sort's order."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    names = pd.Series([ALPHABET[i] for i in rng.integers(0, len(ALPHABET), n)], dtype="str")
    files = np.sort(rng.integers(0, 4, n))
    days = np.array(["2014-01-01", "2014-01-02", "2014-01-05", "2015-03-01"], "datetime64[D]")
    day = pd.Series(days[files])
    row = pd.Series(np.concatenate([np.arange(1, k + 1) for k in np.bincount(files) if k]))
    keep = rng.random(n) < 0.8
    kept = np.flatnonzero(keep)
    keys = pa.table({"day": day.to_numpy(), "name": pa.array(names), "row": row.to_numpy()})
    keys = keys.take(pa.array(kept))
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in keys.column_names])
    assert _kept_in_order(keep, day, names, row).tolist() == kept[order.to_numpy()].tolist()


@pytest.mark.parametrize("seed", range(30))
def test_one_sort_by_name_gives_the_duplicates_and_the_order(seed):
    """_ByName (one stable sort of the names within each file) flags the duplicates as
    DataFrame.duplicated does and orders the kept rows as the multi-key sort, whether the
    files' days ascend (its own path) or not (the general kernel)."""
    import datetime as dt
    from types import SimpleNamespace

    from dnmarkets.clean.partition import _ByName, _Frame, _Names

    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 30, int(rng.integers(1, 5)))
    n = int(sizes.sum())
    # few names (one, two) put a file's last name next to the next file's first
    alphabet = ALPHABET[: [1, 2, len(ALPHABET)][seed % 3]]
    names = [alphabet[i] for i in rng.integers(0, len(alphabet), n)]
    file_idx = np.repeat(np.arange(len(sizes)), sizes)
    row = np.concatenate([np.arange(1, k + 1) for k in sizes]).astype(np.int64)
    start = dt.date(2014, 1, 1)
    offsets = np.sort(rng.integers(0, 6, len(sizes)))  # ascending, some days repeated
    if seed % 2:
        offsets = rng.permutation(offsets)  # days out of file order
    days = [start + dt.timedelta(days=int(d)) for d in offsets]
    day = np.array(days, dtype="datetime64[D]")[file_idx].astype("datetime64[s]")
    frame = _Frame(
        pa.table({"name": pa.array(names, pa.large_string())}),
        {"_file": file_idx, "_row": row, "_crawl_day": day},
    )
    named = _Names.of(frame.table.column("name"))
    codes = named.order_codes()
    by_name = _ByName.of(frame, [SimpleNamespace(crawl_date=d) for d in days], codes)
    stripped = pd.Series([x.strip() for x in names], dtype="str")
    expected = pd.DataFrame({"file": file_idx, "name": stripped}).duplicated().to_numpy()
    assert (by_name.duplicated(frame, codes) == expected).all()

    keep = rng.random(n) < 0.8
    kept = np.flatnonzero(keep)
    keys = pa.table({"day": day, "name": pa.array(stripped), "row": row}).take(pa.array(kept))
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in keys.column_names])
    assert by_name.kept(keep, frame, codes).tolist() == kept[order.to_numpy()].tolist()


def test_names_are_stripped_per_distinct_value_with_one_code_per_name():
    """_Names: raw values that strip to one name share its code (as str.strip then a
    hash would give); missing and blank names are empty."""
    from dnmarkets.clean.partition import _Names

    raw = ["a", " a", "b\u00a0", None, "a ", "  ", "b", ""]
    text = pa.large_string()
    column = pa.chunked_array([pa.array(raw[:3], text), pa.array(raw[3:], text)])
    names = _Names.of(column)
    stripped = pd.Series(raw, dtype="str").str.strip().fillna("")
    assert names.names.take(pa.array(names.codes)).to_pylist() == stripped.tolist()
    assert len(set(names.names.to_pylist())) == len(names.names)  # one code per name
    assert names.empty().tolist() == (stripped == "").tolist()
    rows = np.array([6, 0, 2])
    assert names.column(rows).tolist() == ["b", "a", "b"]
    assert names.keys(rows).take(pa.array(names.codes[rows])).to_pylist() == ["b", "a", "b"]
