"""The simple-shape price kernel (digits, point decimals, a currency after them) gives
what the ten-group RE2 extraction gives, value for value (dnmarkets.clean.prices)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from dnmarkets.clean.prices import _fast_parse, _fast_parse_all

SHAPES = [
    "0.02672439 BTC", "0.5 BTC", " 0.5 BTC", "1.234 BTC", "1.2345 BTC", "12 USD", "12USD",
    "$12", "12 $", "0,5 EUR", "1,234.50 USD", "1.234,50 EUR", "0.05€", "5 ฿", "1.5 BTC BTC",
    "007 EUR", "1234567890123 BTC", "1.", "1. BTC", ".5 BTC", "0.00 BTC", "1.5 btc",
    "1.5 XBT", "", "BTC", "12", "EUR 12.50", "12.50 EUR ", "１２ USD", "1.5  BTC",
]  # fmt: skip


def _same(values: list[str]) -> None:
    expected = _fast_parse_all(pa.array(values, type=pa.string()))
    # a list, the large_string dictionary the cleaning factorizes the prices into, and a
    # slice of one (an offset into its buffers)
    sliced = pa.array(["1.5 BTC", *values], type=pa.large_string()).slice(1)
    for given_values in (values, pa.array(values, type=pa.large_string()), sliced):
        got = _fast_parse(given_values)
        assert got["matched"].tolist() == np.asarray(expected["matched"]).tolist()
        assert got["currency"].tolist() == np.asarray(expected["currency"]).tolist()
        assert got["sep"].tolist() == np.asarray(expected["sep"]).tolist()
        np.testing.assert_array_equal(got["amount"], np.asarray(expected["amount"]))


def test_shapes_agree_mixed_and_all_simple():
    _same(SHAPES)
    simple = ["0.02672439 BTC", "12 USD", "5 ฿", "0.05€", "1.2345 BTC"]
    assert _fast_parse(simple)["matched"].all()
    _same(simple)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            lambda a, sep, b, space, token: f"{a}{sep}{b}{space}{token}",
            st.from_regex(r"[0-9]{0,14}", fullmatch=True),
            st.sampled_from(["", ".", ","]),
            st.from_regex(r"[0-9]{0,13}", fullmatch=True),
            st.sampled_from(["", " ", "  "]),
            st.sampled_from(["", "BTC", "USD", "EUR", "€", "฿", "$", "btc", "GBP"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_generated_prices_agree(values):
    _same(values)
