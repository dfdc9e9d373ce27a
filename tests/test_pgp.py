"""OpenPGP fingerprints from scraped (line-break-less) public key blocks."""

from __future__ import annotations

import base64
import glob
import hashlib

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dnmarkets.pgp import crc24, fingerprint, fingerprints

# A version 4 RSA public-key packet body: version, creation time, algorithm,
# then two MPIs (only the packet structure matters for the fingerprint).
BODY = bytes([4]) + (1_400_000_000).to_bytes(4, "big") + bytes([1])
BODY += (64).to_bytes(2, "big") + bytes(range(1, 9)) + (17).to_bytes(2, "big") + b"\x01\x00\x01"
PACKET = bytes([0x99]) + len(BODY).to_bytes(2, "big") + BODY  # old format, tag 6, 2-byte length
EXPECTED = hashlib.sha1(b"\x99" + len(BODY).to_bytes(2, "big") + BODY).hexdigest().upper()


def armor(data: bytes, newlines: bool = True, headers: str = "Version: GnuPG v2.0.22 (MingW32)"):
    b64 = base64.b64encode(data).decode()
    crc = base64.b64encode(crc24(data).to_bytes(3, "big")).decode()
    sep = "\n" if newlines else ""
    return (
        f"-----BEGIN PGP PUBLIC KEY BLOCK-----{sep}{headers}{sep}{sep}{b64}{sep}={crc}{sep}"
        "-----END PGP PUBLIC KEY BLOCK-----"
    )


def test_crc24_known_value():
    assert crc24(b"") == 0xB704CE
    assert crc24(b"123456789") == 0x21CF02  # the CRC-24/OPENPGP check value


def test_fingerprint_of_a_well_formed_block():
    assert fingerprint(armor(PACKET)) == (EXPECTED, None)


def test_fingerprint_when_the_scraper_removed_line_breaks():
    for headers in ("Version: GnuPG v2.0.22 (MingW32)", "Comment: mxyz key\nVersion: x", ""):
        assert fingerprint(armor(PACKET, newlines=False, headers=headers)).fingerprint == EXPECTED


def test_new_format_packet_header():
    packet = bytes([0xC6, len(BODY)]) + BODY
    assert fingerprint(armor(packet)).fingerprint == EXPECTED


def test_damaged_blocks_give_a_reason_not_an_exception():
    good = armor(PACKET)
    assert fingerprint("") == (None, "empty")
    assert fingerprint("<script>alert(1)</script>") == (None, "no key block")
    body = good.index("mQ")
    damaged = good[: body + 8] + ("A" if good[body + 8] != "A" else "B") + good[body + 9 :]
    assert fingerprint(damaged).fingerprint is None
    assert fingerprint(good[:80]).fingerprint is None
    other = bytes([0x99]) + len(BODY).to_bytes(2, "big") + bytes([3]) + BODY[1:]
    assert fingerprint(armor(other)).reason == "unsupported version 3"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text):
    result = fingerprint("-----BEGIN PGP PUBLIC KEY BLOCK-----" + text)
    assert result.fingerprint is None or len(result.fingerprint) == 40


def test_real_agora_keys(mirror):
    files = sorted(glob.glob(str(mirror / "agora-2014-2015" / "vendors" / "*.csv.gz")))
    frames = [
        pd.read_csv(f, dtype=str, keep_default_na=False, usecols=["name", "publicKey"])
        for f in files[::10] + files[-1:]
    ]
    keys = pd.concat(frames, ignore_index=True)
    keys = keys[keys["publicKey"].str.strip() != ""]
    result = fingerprints(keys["publicKey"])
    share = result["fingerprint"].notna().mean()
    print(f"{len(keys)} non-empty keys, {share:.2%} fingerprinted")
    assert share > 0.98  # measured: 99.6% over all 199 files
    # the same key text always gives the same fingerprint
    same = keys.assign(fp=result["fingerprint"]).dropna().groupby("publicKey")["fp"].nunique()
    assert (same == 1).all()
