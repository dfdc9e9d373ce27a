"""The simulator's column kernels (dnmarkets.sim.columns) give, value for value, the
strings of the per-value formatters they replace, so the simulated files stay
byte-identical: on random values, values next to rounding halves and powers of
ten, and the csv and gzip bytes of the standard library."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnmarkets.sim import columns as C
from dnmarkets.sim.crawls import _rating_text
from dnmarkets.sim.draws import pick_u, pick_u_cum, pick_u_cum_many, pick_u_many
from dnmarkets.sim.files import csv_gz, gzip_bytes
from dnmarkets.sim.texts import alias_mess, fmt_btc, fmt_count, fmt_eur, fmt_usd

RNG = np.random.default_rng(7)


def edge_values() -> np.ndarray:
    """Random magnitudes, exact halves at 2 to 8 decimals, their neighbours, powers of ten."""
    random = np.exp(RNG.uniform(np.log(1e-7), np.log(5e6), size=20_000))
    halves = np.concatenate(
        [(np.arange(1, 3000) + 0.5) / 10.0**d for d in range(2, 9)]
        + [np.round(random[:2000], d) for d in range(2, 9)]
    )
    powers = 10.0 ** np.arange(-8, 7)
    near = np.concatenate([halves, powers])
    return np.concatenate(
        [random, near, np.nextafter(near, 0), np.nextafter(near, np.inf), [0.0, 1e9, 3e12]]
    )


VALUES = edge_values()
FLAGS = RNG.random(VALUES.size) < 0.5


def test_btc_text_equals_fmt_btc():
    got = C.btc_text(VALUES, FLAGS).to_pylist()
    assert got == [fmt_btc(x, p) for x, p in zip(VALUES.tolist(), FLAGS.tolist(), strict=True)]


def test_eur_and_usd_text_equal_their_formatters():
    amounts = np.round(VALUES, 2)
    assert C.eur_text(amounts, FLAGS).to_pylist() == [
        fmt_eur(x, p) for x, p in zip(amounts.tolist(), FLAGS.tolist(), strict=True)
    ]
    assert C.usd_text(VALUES, FLAGS).to_pylist() == [
        fmt_usd(x, p) for x, p in zip(VALUES.tolist(), FLAGS.tolist(), strict=True)
    ]


def test_decimal_text_of_negative_and_huge_values_falls_back_to_python():
    x = np.array([-1234.565, -0.004, 2.5e15, float("inf")])
    assert C.decimal_text(x, 2, group=",").to_pylist() == [f"{v:,.2f}" for v in x.tolist()]


@given(st.lists(st.integers(min_value=0, max_value=10**15), max_size=50), st.booleans())
def test_counts_text_equals_fmt_count(values, thousands):
    n = np.array(values, dtype=np.int64)
    assert C.counts_text(n, thousands).to_pylist() == [fmt_count(v, thousands) for v in values]


def test_pick_u_cum_many_equals_pick_u_cum():
    probs = np.array([0.3, 0.1, 0.25, 0.05, 0.3]) * 0.67
    u = np.concatenate([RNG.random(2000), np.cumsum(probs) / probs.sum(), [0.0, 0.999999]])
    assert pick_u_cum_many(u, probs).tolist() == [pick_u_cum(x, probs) for x in u.tolist()]


def test_counts_text_of_negative_counts():
    assert C.counts_text(np.array([-1234567, 5]), True).to_pylist() == ["-1,234,567", "5"]


def test_rating_text_equals_the_per_value_text():
    r = np.concatenate([np.clip(5.0 - RNG.exponential(0.12, 5000), 3.0, 5.0), [3.0, 4.975, 5.0]])
    r = np.concatenate([r, np.arange(60, 101) / 20 + 0.025])  # halves of the percent style
    for style in ("usd", "eur", "btc"):
        assert C.rating_text(r, style).to_pylist() == [_rating_text(v, style) for v in r.tolist()]


def test_timestamps_and_dates():
    secs = np.array([0, 59, 60, 3599, 3600, 45296, 86399])
    assert C.timestamps("2017-07-05", secs).to_pylist() == [
        f"2017-07-05 {s // 3600:02d}:{(s // 60) % 60:02d}:{s % 60:02d}" for s in secs.tolist()
    ]
    start = dt.date(2017, 1, 1)
    days = np.array([-720, -1, 0, 58, 59, 364, 546])
    assert C.iso_dates(start, days).to_pylist() == [
        (start + dt.timedelta(days=int(d))).isoformat() for d in days
    ]


def test_alias_mess_text_equals_alias_mess():
    aliases = ["DopeKing", "mr_x", "ÄpfelBaum", "a.b-C"]
    u = np.array([0.1, 0.3, 0.5, 0.8, 0.9, 0.25, 0.4, 0.7, 0.85])
    for batch in (aliases[:2] + aliases[3:], aliases):  # ASCII only, and not
        names = [batch[i % len(batch)] for i in range(u.size)]
        got = C.alias_mess_text(C.strings(names), u).to_pylist()
        assert got == [alias_mess(a, v) for a, v in zip(names, u.tolist(), strict=True)]


# no carriage return: csv.writer quotes it on Python 3.13 and writes it bare on 3.11
# and 3.12 (csv_field quotes it; the round trip below checks that it comes back)
text = st.text(alphabet=st.sampled_from(list("ab ,\"\n\t;é€\u00a0'&")), max_size=8)
text_with_cr = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t;é')), max_size=8)
HEADER = ["a", "b,c", 'q"']


def _csv_text(rows):
    fields = [C.csv_field(C.strings([r[k] for r in rows])) for k in range(3)]
    return C.csv_text(HEADER, fields)


@given(st.lists(st.tuples(text, text, text), max_size=20))
def test_csv_text_equals_csv_writer(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    writer.writerows(rows)
    assert _csv_text(rows) == out.getvalue().encode("utf-8")


@given(st.lists(st.tuples(text_with_cr, text_with_cr, text_with_cr), max_size=20))
def test_csv_text_reads_back_as_written(rows):
    read = list(csv.reader(io.StringIO(_csv_text(rows).decode("utf-8"), newline="")))
    assert read == [HEADER] + [list(r) for r in rows]


def test_a_carriage_return_is_quoted():
    assert _csv_text([("\r", "a\rb", "x")]) == b'a,"b,c","q"""\n"\r","a\rb",x\n'


def test_csv_text_of_sliced_columns():
    column = C.csv_field(C.strings(["x", "y,1", "z"])).slice(1)
    assert C.csv_text(["a", "b"], [column, column]) == b'a,b\n"y,1","y,1"\nz,z\n'


def test_gzip_bytes_equal_the_files_gzip():
    rows = [[str(i), f"title {i}, with a comma"] for i in range(5000)]
    data = csv_gz(["id", "title"], rows)
    assert gzip.decompress(data).startswith(b"id,title\n0,")
    text = gzip.decompress(data)
    assert gzip_bytes(text) == data
    assert gzip_bytes(pa.py_buffer(text)) == data


@given(
    st.lists(st.floats(min_value=0.0, max_value=50.0), min_size=1, max_size=8),
    st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), max_size=30),
)
def test_pick_u_many_equals_pick_u(weights, draws):
    if sum(weights) <= 0:
        weights = [*weights, 1.0]
    expected = [pick_u(u, weights) for u in draws]
    assert pick_u_many(np.array(draws), weights).tolist() == expected


def test_pick_u_many_on_cumulative_sums_themselves():
    weights = [0.35, 0.25, 0.1, 0.2, 0.1]
    total = float(sum(weights))
    acc, edges = 0.0, []
    for w in weights:  # the draws that equal pick_u's running sums
        acc += w / total
        edges.append(acc)
    u = np.array(edges + [np.nextafter(e, 0) for e in edges])
    assert pick_u_many(u, weights).tolist() == [pick_u(x, weights) for x in u.tolist()]


@pytest.mark.parametrize("fmt", ["{:d}", "ls-{:06d}", "n{:07d}", "il-{:05d}", "x{}y"])
def test_int_format_equals_str_format(fmt):
    n = np.array([0, 7, 1137, 99_999, 100_000, 999_999, 1_000_000, 12_345_678])
    assert C.int_format(fmt, n).to_pylist() == [fmt.format(v) for v in n.tolist()]


def test_by_signature_runs_once_per_signature():
    kind = np.array([0, 1, 0, 2, 1, 0])
    size = np.array([1.5, 1.5, 1.5, 0.5, 2.5, 1.5])
    calls = []

    def text(r):
        calls.append(r)
        return f"{kind[r]}:{size[r]}"

    got = C.by_signature([kind, size], text).to_pylist()
    assert got == [f"{k}:{s}" for k, s in zip(kind, size, strict=True)]
    assert len(calls) == 4
    assert C.by_signature([np.array([], dtype=np.int64)], text).to_pylist() == []
