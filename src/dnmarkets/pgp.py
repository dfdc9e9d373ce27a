"""OpenPGP key fingerprints from scraped public key blocks.

Vendor pages show ASCII-armored public keys; scrapers often lose the line
breaks, so armor headers (`Version: ...`) run straight into the base64 body and
the CRC24 checksum runs into the END line. The fingerprint identifies a key
across markets whatever the formatting: for a version 4 key it is the SHA-1 of
0x99, the two-octet packet length and the public-key packet body (RFC 4880
§12.2). The body's start is found by trying the candidate offsets after the
headers and keeping the one whose bytes parse as a public-key packet and match
the CRC24 checksum when one is present (RFC 4880 §6.1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import NamedTuple

import pandas as pd

_BLOCK_RE = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----(?P<body>.*?)(?:-----END PGP PUBLIC KEY BLOCK-----|$)",
    re.S,
)
_B64 = re.compile(r"[A-Za-z0-9+/=]")


class PgpResult(NamedTuple):
    fingerprint: str | None
    reason: str | None


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def _packet(data: bytes) -> tuple[int, bytes] | None:
    """(tag, body) of the first packet, or None when it cannot be parsed."""
    if not data or not data[0] & 0x80:
        return None
    first = data[0]
    if first & 0x40:  # new format
        tag = first & 0x3F
        if len(data) < 2:
            return None
        o = data[1]
        if o < 192:
            length, start = o, 2
        elif o < 224:
            if len(data) < 3:
                return None
            length, start = ((o - 192) << 8) + data[2] + 192, 3
        elif o == 255:
            if len(data) < 6:
                return None
            length, start = int.from_bytes(data[2:6], "big"), 6
        else:
            return None  # partial lengths do not occur in key packets
    else:  # old format
        tag = (first >> 2) & 0x0F
        size = {0: 1, 1: 2, 2: 4}.get(first & 0x03)
        if size is None or len(data) < 1 + size:
            return None
        length, start = int.from_bytes(data[1 : 1 + size], "big"), 1 + size
    body = data[start : start + length]
    if len(body) < length:
        return None
    return tag, body


def _decode(body: str) -> tuple[bytes, int | None] | None:
    """Decoded bytes of a base64 body (checksum split off), or None."""
    text = "".join(_B64.findall(body))
    checksum = None
    match = re.search(r"=([A-Za-z0-9+/]{4})$", text)
    if match and len(text[: match.start()].rstrip("=")) > 0:
        try:
            checksum = int.from_bytes(base64.b64decode(match[1]), "big")
            text = text[: match.start()]
        except (binascii.Error, ValueError):
            checksum = None
    text = text.rstrip("=")
    text = text[: len(text) - len(text) % 4 if len(text) % 4 == 1 else len(text)]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4)), checksum
    except (binascii.Error, ValueError):
        return None


def fingerprint(armored: str | None) -> PgpResult:
    """Fingerprint (40 upper-case hex characters) of a scraped public key block."""
    if not isinstance(armored, str) or not armored.strip():
        return PgpResult(None, "empty")
    text = re.sub(r"<br\s*/?>", "\n", armored, flags=re.I)
    match = _BLOCK_RE.search(text)
    if not match:
        return PgpResult(None, "no key block")
    body = match["body"]
    # The body starts after the armor headers; a public-key packet's base64
    # begins with "m" (old format, tag 6) or "x" (new format). Try each start.
    starts = [m.start() for m in re.finditer(r"(?=[mx][A-Za-z0-9+/]{3})", body)][:50]
    last_reason = "bad base64"
    for start in starts:
        decoded = _decode(body[start:])
        if decoded is None:
            continue
        data, checksum = decoded
        packet = _packet(data)
        if packet is None:
            last_reason = "truncated" if data[:1] and data[0] & 0x80 else last_reason
            continue
        tag, key = packet
        if tag not in (6, 14):
            last_reason = "not a public key packet"
            continue
        if checksum is not None and crc24(data) != checksum:
            last_reason = "crc mismatch"
            continue
        if not key or key[0] != 4:
            return PgpResult(None, f"unsupported version {key[0] if key else 'none'}")
        digest = hashlib.sha1(b"\x99" + len(key).to_bytes(2, "big") + key).hexdigest()
        return PgpResult(digest.upper(), None)
    return PgpResult(None, last_reason)


def fingerprints(values: pd.Series) -> pd.DataFrame:
    """`fingerprint, reason` for every value, computing each distinct value once."""
    values = pd.Series(values)
    codes, uniques = pd.factorize(values.fillna(""))
    results = [fingerprint(u) for u in uniques]
    fps = pd.array([r.fingerprint for r in results] + [None], dtype="str")
    reasons = pd.array([r.reason for r in results] + [None], dtype="str")
    return pd.DataFrame(
        {"fingerprint": fps.take(codes), "reason": reasons.take(codes)}, index=values.index
    )
