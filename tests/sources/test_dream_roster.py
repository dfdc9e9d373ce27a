"""The roster importer on rows cut from Dream Market's 2016 seller profiles
(tests/fixtures/roster: 17 rows, descriptions shortened, key blocks whole)."""

import gzip
from pathlib import Path

import pytest

from dnmarkets.sources.pgp import fingerprint
from dnmarkets.sources.roster import RosterError, import_roster

FIXTURE = Path(__file__).parent.parent / "fixtures" / "roster" / "dream2016_seller_cut.csv"
SPEC = {
    "file": "dream-2016/seller.csv.gz",
    "collected": "2016-12-31",
    "date_format": "%d/%m/%Y",
    "columns": {"vendor": "seller_name", "registered": "member_since", "pgp": "pgp"},
}


def _write(root: Path, text: bytes) -> None:
    path = root / SPEC["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as out:
        out.write(text)


def test_real_rows_all_clean_with_fingerprints(tmp_path):
    _write(tmp_path, FIXTURE.read_bytes())
    clean, quarantine, acc = import_roster(SPEC, tmp_path)
    assert acc["raw_rows"] == 17 == acc["clean_rows"] + acc["quarantined_rows"]
    assert quarantine.empty
    # DD/MM/YYYY: 13/07/2016 is the 13th of July (not a month 13)
    first = clean.set_index("vendor").loc["0ldamsterdam"]
    assert str(first["registered"]) == "2016-07-13"
    # multi-line armoured blocks give version-4 fingerprints; the profile without a key
    # stays, with its reason
    assert acc["with_fingerprint"] == 16
    assert clean.set_index("vendor").loc["Bounce2theounce", "pgp_reason"] == "no key block"
    assert set(clean["pgp_fingerprint"].str.len()) == {0, 40}


def test_fingerprint_independent_of_line_breaks(tmp_path):
    """The fingerprint of a multi-line block equals that of the same block with its
    line breaks lost (as Agora's scrapes have them): the key, not the layout."""
    _write(tmp_path, FIXTURE.read_bytes())
    clean, _, _ = import_roster(SPEC, tmp_path)
    import csv

    with FIXTURE.open(newline="", encoding="utf-8") as f:
        block = next(csv.DictReader(f))["pgp"]
    flat = block.replace("\n", " ")
    assert fingerprint(flat).fingerprint == clean["pgp_fingerprint"].iloc[0]


def test_bad_rows_quarantined_with_field(tmp_path):
    lines = FIXTURE.read_text(encoding="utf-8")
    header = lines.split("\n", 1)[0]
    extra = [
        "900,,01/01/2016,-,-,-,-,x,4.9,-,Dream",  # blank name
        "901,sometrader,31/02/2016,-,-,-,-,x,4.9,-,Dream",  # no such day
        "902,latetrader,05/01/2017,-,-,-,-,x,4.9,-,Dream",  # after collection
        "903,0ldamsterdam,01/01/2016,-,-,-,-,x,4.9,-,Dream",  # the same name again
    ]
    _write(tmp_path, (lines.rstrip("\n") + "\n" + "\n".join(extra) + "\n").encode())
    clean, quarantine, acc = import_roster(SPEC, tmp_path)
    assert acc["raw_rows"] == 21 == acc["clean_rows"] + acc["quarantined_rows"]
    got = quarantine.set_index("source_row")[["field", "reason"]].to_dict("index")
    assert got == {
        18: {"field": "vendor", "reason": "empty_vendor"},
        19: {"field": "registered", "reason": "bad_date"},
        20: {"field": "registered", "reason": "date_after_collection"},
        21: {"field": "vendor", "reason": "duplicate_vendor"},
    }
    assert header.startswith("seqNo")


def test_short_row_names_file_and_row(tmp_path):
    text = FIXTURE.read_text(encoding="utf-8").rstrip("\n") + "\n904,short,01/01/2016\n"
    _write(tmp_path, text.encode())
    with pytest.raises(RosterError, match=r"dream-2016/seller.csv.gz: data row 18 has 3 fields"):
        import_roster(SPEC, tmp_path)


def test_missing_column_and_bad_bytes(tmp_path):
    _write(tmp_path, FIXTURE.read_bytes())
    spec = {**SPEC, "columns": {**SPEC["columns"], "pgp": "publicKey"}}
    with pytest.raises(RosterError, match="publicKey"):
        import_roster(spec, tmp_path)
    _write(tmp_path, FIXTURE.read_bytes().replace(b"0ldamsterdam", b"0ld\xe9msterdam", 1))
    with pytest.raises(RosterError, match=r"data row 1, field 'seller_name'"):
        import_roster(SPEC, tmp_path)
