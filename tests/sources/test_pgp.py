"""OpenPGP fingerprints from scraped (line-break-less, mangled) public key blocks."""

from __future__ import annotations

import base64
import glob
import hashlib
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dnmarkets.sources.pgp as pgp
from dnmarkets.sources.pgp import PgpResult, crc24, fingerprint, fingerprints

BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
END = "-----END PGP PUBLIC KEY BLOCK-----"
HEADERS = "Version: GnuPG v2.0.22 (MingW32)"


def ref_crc24(data: bytes) -> int:
    """CRC24 straight from the sample code of RFC 4880 §6.1 (independent of the module)."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def mpi(value: bytes) -> bytes:
    return (len(value) * 8 - (8 - value[0].bit_length())).to_bytes(2, "big") + value


def v4_rsa_body(n: bytes = bytes(range(0x81, 0x91)), e: bytes = b"\x01\x00\x01") -> bytes:
    """A version 4 RSA public-key packet body: version, creation time, algorithm, n, e."""
    return b"\x04" + (1_400_000_000).to_bytes(4, "big") + b"\x01" + mpi(n) + mpi(e)


def old_packet(tag: int, body: bytes) -> bytes:
    return bytes([0x80 | tag << 2 | 1]) + len(body).to_bytes(2, "big") + body


def new_packet(tag: int, body: bytes) -> bytes:
    assert len(body) < 192
    return bytes([0xC0 | tag, len(body)]) + body


def v4_fpr(body: bytes) -> str:
    return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()


BODY = v4_rsa_body()
USER_ID = old_packet(13, b"Test Vendor <vendor@example.invalid>")
PACKETS = old_packet(6, BODY) + USER_ID
EXPECTED = v4_fpr(BODY)


def armor(
    data: bytes,
    headers: str = HEADERS,
    sep: str = "\n",
    width: int = 64,
    checksum: bool = True,
    end: bool = True,
) -> str:
    """ASCII armor (RFC 4880 §6.2); ``sep=""`` mimics the scraper that removed line breaks."""
    b64 = base64.b64encode(data).decode()
    lines = [BEGIN, *(headers.split("\n") if headers else []), ""]
    lines += [b64[i : i + width] for i in range(0, len(b64), width)]
    if checksum:
        lines.append("=" + base64.b64encode(ref_crc24(data).to_bytes(3, "big")).decode())
    if end:
        lines.append(END)
    return sep.join(lines)


# A real key made with GnuPG 2.2.40 (ed25519, throwaway user ID); the fingerprint is
# GnuPG's own, so this checks the module against an independent implementation.
GPG_KEY = """-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEawLMyRYJKwYBBAHaRw8BAQdA0Lu4ds7BXK4XVY+bqPBTiYTJHiYn0mCjy74m
+kOx01O0J0ZpbmdlcnByaW50IFRlc3QgPHRlc3RAZXhhbXBsZS5pbnZhbGlkPoiQ
BBMWCAA4FiEE7beeqM1LfyXWIy8BEOynYAkbAwsFAmsCzMkCGwMFCwkIBwIGFQoJ
CAsCBBYCAwECHgECF4AACgkQEOynYAkbAwuM7AD/VMujPNdbIBIIHUUxZlbZ+3Sy
LwO68PDF7BLt/ayGVUcBAIaiFyZgDnNjKxL5itw6NmZptRGbzg2WctzTr2FBrR0H
=GCpU
-----END PGP PUBLIC KEY BLOCK-----"""
GPG_FPR = "EDB79EA8CD4B7F25D6232F0110ECA760091B030B"


# --- known answers -----------------------------------------------------------


def test_crc24_matches_the_rfc_sample_code():
    assert crc24(b"") == 0xB704CE
    assert crc24(b"123456789") == 0x21CF02  # the CRC-24/OPENPGP check value
    for data in (PACKETS, bytes(range(256)) * 3, GPG_KEY.encode()):
        assert crc24(data) == ref_crc24(data)


def test_hand_built_v4_key():
    assert len(EXPECTED) == 40
    assert fingerprint(armor(PACKETS)) == PgpResult(EXPECTED, None)


def test_key_made_by_gnupg():
    assert fingerprint(GPG_KEY) == PgpResult(GPG_FPR, None)
    flat = GPG_KEY.replace("\n", "").replace(BEGIN, BEGIN + "Version: GnuPG v2.2.40 (GNU/Linux)")
    assert fingerprint(flat) == PgpResult(GPG_FPR, None)


@pytest.mark.parametrize(
    "headers",
    [
        HEADERS,
        "",
        "Version: GnuPG/MacGPG2 v2.0.22 (Darwin)\nComment: GPGTools - https://gpgtools.org",
        "Version: GnuPG v1 - WinPT 1.4.3\nCharset: UTF-8\nComment: Using GnuPG with Thunderbird",
        "Comment: mQENBFKClrwBEAC my key\nComment: xsBNBFKClrwBEAC",  # looks like a body
        "Version: OpenPGP.js v.1.20130420\nComment: http://openpgpjs.org/mQ",
        "Comment: https://keybase.io/vendor",
    ],
)
def test_line_breaks_removed_by_the_scraper(headers):
    for data in (PACKETS, old_packet(6, BODY)):
        flat = armor(data, headers=headers, sep="")
        assert "\n" not in flat
        assert fingerprint(flat) == PgpResult(EXPECTED, None), flat[:120]
        # without the checksum the key material must fill the packet exactly
        flat = armor(data, headers=headers, sep="", checksum=False)
        assert fingerprint(flat) == PgpResult(EXPECTED, None), flat[:120]


@pytest.mark.parametrize(
    "layout",
    [
        dict(sep="\r\n"),
        dict(sep=" "),
        dict(sep="<br>"),
        dict(sep="<br />\n"),
        dict(sep="\n", width=76),
        dict(sep="", checksum=False),
        dict(sep="", end=False),  # cut after the checksum
    ],
)
def test_other_layouts(layout):
    assert fingerprint(armor(PACKETS, **layout)) == PgpResult(EXPECTED, None)


def test_html_wrapping_and_entities():
    text = "<p>" + armor(PACKETS, sep="<br/>").replace("+", "&#43;").replace("/", "&#x2F;")
    assert fingerprint(text + "</p>") == PgpResult(EXPECTED, None)


def test_key_inside_a_dash_escaped_signed_message():
    signed = armor(PACKETS, sep="\n").replace(END, "- " + END).replace(BEGIN, "- " + BEGIN)
    signed = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + signed
    assert fingerprint(signed) == PgpResult(EXPECTED, None)
    assert fingerprint(signed.replace("\n", "")) == PgpResult(EXPECTED, None)


def test_text_before_the_real_block():
    # as on one Agora page: a product list inside a first (empty) key block
    junk = "-----BEGIN PUBLIC PRODUCT LIST-----FISHSCALE $9.99/ 100mg /p/mQENBxyz-----END LIST-----"
    assert fingerprint(BEGIN + junk + armor(PACKETS, sep="")) == PgpResult(EXPECTED, None)
    assert fingerprint("My key: " + armor(PACKETS) + " thanks!") == PgpResult(EXPECTED, None)


def test_truncated_after_the_key_packet_still_has_its_fingerprint():
    flat = armor(PACKETS, sep="", checksum=False, end=False)
    cut = flat[: flat.index("mQ") + (len(old_packet(6, BODY)) * 4 + 2) // 3 + 2]
    assert fingerprint(cut) == PgpResult(EXPECTED, None)


def test_cut_with_an_ellipsis_or_a_damaged_checksum():
    good = armor(PACKETS, sep="")
    assert fingerprint(good.replace(END, "...")) == PgpResult(EXPECTED, None)
    cut = good[: good.index("mQ") + 60] + " …"
    assert fingerprint(cut) == PgpResult(EXPECTED, None)
    check = good.rindex("=")
    assert fingerprint(good[: check + 3] + good[check + 5 :]) == PgpResult(EXPECTED, None)


def test_new_format_packet_headers():
    assert fingerprint(armor(new_packet(6, BODY) + USER_ID, sep="")).fingerprint == EXPECTED
    long_body = v4_rsa_body(n=b"\xc5" + bytes(300))  # two-octet new-format length
    packet = bytes([0xC6, ((len(long_body) - 192) >> 8) + 192, (len(long_body) - 192) & 0xFF])
    expected = v4_fpr(long_body)
    assert fingerprint(armor(packet + long_body, sep="")).fingerprint == expected
    packet = b"\xc6\xff" + len(long_body).to_bytes(4, "big")  # five-octet length
    assert fingerprint(armor(packet + long_body, sep="")).fingerprint == expected


def test_other_public_key_algorithms_without_checksum():
    dsa = b"\x04" + bytes(4) + b"\x11" + b"".join(mpi(bytes([k]) * 8) for k in (0xF1, 3, 5, 7))
    ecdh = b"\x04" + bytes(4) + b"\x12" + b"\x03\x2b\x65\x6e" + mpi(b"\x40" + bytes(32))
    ecdh += b"\x03\x01\x08\x07"
    for body in (dsa, ecdh):
        text = armor(old_packet(6, body) + USER_ID, sep="", checksum=False)
        assert fingerprint(text) == PgpResult(v4_fpr(body), None)


def test_version_3_and_5_keys():
    n, e = bytes(range(0xA0, 0xB0)), b"\x11"
    v3 = b"\x03" + bytes(4) + b"\x00\x00" + b"\x01" + mpi(n) + mpi(e)
    v3_fpr = hashlib.md5(n + e).hexdigest().upper()
    assert fingerprint(armor(old_packet(6, v3), sep="")) == PgpResult(v3_fpr, None)
    assert fingerprint(armor(old_packet(6, v3), checksum=False)) == PgpResult(v3_fpr, None)
    material = mpi(n) + mpi(e)
    v5 = b"\x05" + bytes(4) + b"\x01" + len(material).to_bytes(4, "big") + material
    v5_fpr = hashlib.sha256(b"\x9a" + len(v5).to_bytes(4, "big") + v5).hexdigest().upper()
    assert fingerprint(armor(new_packet(6, v5))) == PgpResult(v5_fpr, None)
    assert len(v3_fpr) == 32 and len(v5_fpr) == 64


# --- damaged input -------------------------------------------------------------


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_damaged_blocks_give_a_reason_not_an_exception():
    good = armor(PACKETS, sep="")
    body, check = good.index("mQ"), good.rindex("=")
    assert fingerprint(flip(good, body + 10)) == PgpResult(None, "crc mismatch")
    assert fingerprint(flip(good, check + 2)) == PgpResult(None, "crc mismatch")
    assert fingerprint(flip(good, len(good) - 60)) == PgpResult(None, "crc mismatch")
    assert fingerprint(good[: body + 30]) == PgpResult(None, "truncated")
    lines = armor(PACKETS, checksum=False)
    assert fingerprint(lines[: lines.index("mQ") + 20]) == PgpResult(None, "truncated")
    for empty in ("", "   \n", None, float("nan"), np.nan, pd.NA):
        assert fingerprint(empty) == PgpResult(None, "empty")
    assert fingerprint("mQENBFKClrwBEAC") == PgpResult(None, "no key block")
    assert fingerprint("<script>alert(1)</script>") == PgpResult(None, "no key block")
    assert fingerprint(BEGIN + "<script>alert(1)</script>" + END) == (None, "bad base64")
    assert fingerprint(BEGIN + "Version: x" + END) == PgpResult(None, "bad base64")
    assert fingerprint(BEGIN + END) == PgpResult(None, "bad base64")
    assert fingerprint(BEGIN + "hello world" + END).reason == "bad base64"
    assert fingerprint(BEGIN + "fhdkjhfkdsFHKJ=abcd" + END) == PgpResult(None, "crc mismatch")
    assert fingerprint(12345) == PgpResult(None, "no key block")


def test_packets_that_are_not_a_primary_public_key():
    assert fingerprint(armor(old_packet(5, BODY))) == (None, "not a public key packet")
    assert fingerprint(armor(old_packet(14, BODY))) == (None, "not a public key packet")
    assert fingerprint(armor(USER_ID)) == PgpResult(None, "not a public key packet")
    assert fingerprint(armor(old_packet(6, b"\x07" + BODY[1:]))) == (None, "unsupported version 7")
    # without a checksum nothing vouches for a non-key packet: no body found
    assert fingerprint(armor(old_packet(5, BODY), checksum=False)).reason == "bad base64"


def test_checksum_found_even_when_padding_runs_into_it():
    for extra in range(3):  # bodies of every length modulo 3
        data = old_packet(6, BODY) + old_packet(13, b"x" * (5 + extra))
        assert fingerprint(armor(data, sep="")) == PgpResult(EXPECTED, None)


# --- properties ---------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text):
    for candidate in (text, BEGIN + text, BEGIN + text + END, armor(PACKETS)[:200] + text):
        result = fingerprint(candidate)
        assert isinstance(result, PgpResult)
        assert (result.fingerprint is None) != (result.reason is None)


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(min_value=0),
    char=st.sampled_from("A/+=m-x \n<0"),
    operation=st.sampled_from(["replace", "insert", "delete", "cut"]),
    sep=st.sampled_from(["", "\n", " "]),
)
def test_a_damaged_block_never_yields_a_wrong_fingerprint(position, char, operation, sep):
    text = armor(PACKETS, sep=sep)
    i = position % len(text)
    damaged = {
        "replace": text[:i] + char + text[i + 1 :],
        "insert": text[:i] + char + text[i:],
        "delete": text[:i] + text[i + 1 :],
        "cut": text[:i],
    }[operation]
    assert fingerprint(damaged).fingerprint in (None, EXPECTED)


@settings(max_examples=150, deadline=None)
@given(
    n=st.binary(min_size=1, max_size=300).map(lambda b: b"\x80" + b),
    e=st.binary(min_size=1, max_size=4).map(lambda b: b"\x01" + b),
    headers=st.lists(
        st.tuples(
            st.sampled_from(["Version", "Comment", "Charset", "Hash"]),
            st.text(st.characters(codec="ascii", exclude_characters="-\r\n"), max_size=40),
        ),
        max_size=3,
    ),
    sep=st.sampled_from(["", "\n", " ", "<br>", "\r\n"]),
    checksum=st.booleans(),
    new_format=st.booleans(),
)
def test_random_keys_round_trip(n, e, headers, sep, checksum, new_format):
    body = v4_rsa_body(n=n, e=e)
    packet = new_packet(6, body) if new_format and len(body) < 192 else old_packet(6, body)
    text = armor(packet + USER_ID, "\n".join(f"{k}: {v}" for k, v in headers), sep, 64, checksum)
    assert fingerprint(text) == PgpResult(v4_fpr(body), None)


# --- the vectorised form -------------------------------------------------------


def test_fingerprints_reads_each_distinct_value_once(monkeypatch):
    calls = []
    real = pgp.fingerprint
    monkeypatch.setattr(pgp, "fingerprint", lambda value: calls.append(value) or real(value))
    good = armor(PACKETS, sep="")
    values = pd.Series([good, None, "", good, "junk", good, np.nan], index=list("abcdefg"))
    result = fingerprints(values)
    assert sorted(map(str, calls)) == sorted([good, "", "junk"])
    assert list(result.columns) == ["fingerprint", "reason"]
    assert list(result.index) == list("abcdefg")
    fps = [v if isinstance(v, str) else None for v in result["fingerprint"]]
    reasons = [v if isinstance(v, str) else None for v in result["reason"]]
    assert fps == [EXPECTED, None, None, EXPECTED, None, EXPECTED, None]
    assert reasons == [None, "empty", "empty", None, "no key block", None, "empty"]
    assert len(fingerprints(pd.Series([], dtype=object))) == 0


# --- real Agora vendor pages ---------------------------------------------------


def test_real_agora_vendor_keys(mirror):
    """All 199 daily vendor files (two columns, about 2 s): keys appear only in the
    34 files from 2014-01-01 to 2014-06-22, so a sample of files would see few."""
    started = time.perf_counter()
    files = sorted(glob.glob(str(mirror / "agora-2014-2015" / "vendors" / "vendor*.csv.gz")))
    assert len(files) == 199
    rows = pd.concat(
        [
            pd.read_csv(f, usecols=["name", "publicKey"], dtype=str, keep_default_na=False).assign(
                file=f
            )
            for f in files
        ],
        ignore_index=True,
    )
    keys = rows[rows["publicKey"].str.strip() != ""]
    keys = keys.join(fingerprints(keys["publicKey"]))
    distinct = keys.drop_duplicates("publicKey")
    row_share = keys["fingerprint"].notna().mean()
    key_share = distinct["fingerprint"].notna().mean()
    reasons = distinct["reason"].value_counts().to_dict()
    print(
        f"\n{len(keys)} non-empty keys ({len(distinct)} distinct) in {len(files)} files: "
        f"{row_share:.2%} of rows, {key_share:.2%} of distinct keys fingerprinted; "
        f"failures {reasons}; {time.perf_counter() - started:.1f} s"
    )
    # measured: 10791 of 10797 rows (99.94%), 1516 of 1521 distinct keys (99.67%)
    assert len(keys) > 10_000
    assert row_share >= 0.995
    assert key_share >= 0.99
    assert set(reasons) <= {"crc mismatch", "truncated", "bad base64"}
    assert (keys["fingerprint"].dropna().str.fullmatch(r"[0-9A-F]{40}")).all()

    # one vendor, the same key text in many files: the same fingerprint, computed afresh
    ok = keys.dropna(subset=["fingerprint"])
    name, text = ok.groupby(["name", "publicKey"]).size().idxmax()
    same = ok[(ok["name"] == name) & (ok["publicKey"] == text)]
    assert len(same) >= 10
    assert {fingerprint(t).fingerprint for t in same["publicKey"]} == {same["fingerprint"].iat[0]}
    assert ok.groupby("publicKey")["fingerprint"].nunique().max() == 1

    # key text re-exported (new signatures, headers) but the same key; and real key changes
    per_name = ok.groupby("name").agg(
        texts=("publicKey", "nunique"), fprs=("fingerprint", "nunique")
    )
    changed = int((per_name["fprs"] > 1).sum())
    reexported = int(((per_name["texts"] > 1) & (per_name["fprs"] == 1)).sum())
    shared = int((ok.groupby("fingerprint")["name"].nunique() > 1).sum())
    print(
        f"{len(per_name)} vendor names with a key: {changed} changed fingerprint, "
        f"{reexported} changed key text only; {shared} fingerprints used by 2+ names"
    )
    # measured: 1299 names, 154 changed fingerprint, 32 text only, 19 shared fingerprints
    assert 0 < changed < len(per_name) // 4
    assert reexported > 0
    assert 0 < shared < 100
