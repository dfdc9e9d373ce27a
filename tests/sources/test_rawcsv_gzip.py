"""rawcsv.read_bytes inflates with ISA-L: the same bytes as the gzip module, and for a
damaged stream the gzip module's own error (both kinds of damage fail in both)."""

from __future__ import annotations

import gzip

import pytest

from dnmarkets.sources.rawcsv import read_bytes

BODY = b"listing_id,title\n" + b"".join(b"%d,Title \xc3\xa9 %d\n" % (i, i) for i in range(5000))
GOOD = gzip.compress(BODY)


class Bad(ValueError):
    pass


@pytest.mark.parametrize(
    "data",
    [GOOD, GOOD + GOOD, GOOD + b"\0" * 8, gzip.compress(b""), b""],
    ids=["one member", "two members", "zero padding", "empty stream", "empty file"],
)
def test_same_bytes_as_gzip(tmp_path, data):
    path = tmp_path / "2017-03-04_listings.csv.gz"
    path.write_bytes(data)
    assert read_bytes(path, Bad) == gzip.decompress(data)


def _flip_crc(data: bytes) -> bytes:
    out = bytearray(data)
    out[-6] ^= 1
    return bytes(out)


@pytest.mark.parametrize(
    "data",
    [GOOD[:-10], GOOD[:5], GOOD + b"xyz", _flip_crc(GOOD), b"not gzip at all"],
    ids=["truncated", "cut in the header", "trailing garbage", "bad crc", "not gzip"],
)
def test_damaged_stream_gives_the_gzip_modules_message(tmp_path, data):
    path = tmp_path / "2017-03-04_listings.csv.gz"
    path.write_bytes(data)
    try:
        gzip.decompress(data)
    except (OSError, EOFError) as err:
        expected = f"{path}: cannot read gzip file (truncated or damaged): {err}"
    with pytest.raises(Bad) as caught:
        read_bytes(path, Bad)
    assert str(caught.value) == expected
