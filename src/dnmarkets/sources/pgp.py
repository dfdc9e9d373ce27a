"""OpenPGP key fingerprints from scraped ASCII-armored public key blocks.

Vendor pages show ASCII-armored public keys, and scrapers often lose the line
breaks: armor headers (``Version: ...``, ``Comment: ...``) then run straight
into the base64 body, and the CRC24 checksum (``=XXXX``) runs into the END
line. The fingerprint identifies a key whatever the formatting, so it can match
vendor identities across markets.

How a block is read:

1. HTML line breaks and tags are removed, entities unescaped, and the text
   between each ``BEGIN PGP PUBLIC KEY BLOCK`` marker and the next END (or
   BEGIN) marker, or the end of the text, is taken as one block.
2. Whitespace is dropped; a trailing ``=XXXX`` is the CRC24 checksum.
3. The body cannot start before the last character that is not base64 (the
   ``)`` of ``(MingW32)``, the ``.`` of a URL), but header text made of base64
   letters may still precede it (``...gpgtools.orgmQENB...``). Every offset of
   the first 64 characters after that point is a candidate start. With a
   checksum, the candidate whose decoded bytes match it (RFC 4880 §6.1) is the
   body; a false match has odds of 2**-24 per candidate. Without one, the
   candidate must decode to a complete public-key packet whose key material
   parses exactly (the MPIs or fields of its algorithm fill the packet).
4. The fingerprint of the first packet (RFC 4880 §12.2, RFC 9580 §5.5.4):

   - version 4: SHA-1 of 0x99, two-octet length, packet body (40 hex digits);
   - versions 2 and 3 (RSA only): MD5 of the RSA modulus and exponent octets,
     without their bit counts (32 hex digits);
   - version 5 (LibrePGP) and 6 (RFC 9580): SHA-256 of 0x9A or 0x9B, four-octet
     length, packet body (64 hex digits).

   Only version 4 has 40 hex digits; a consumer expecting exactly 40 should
   filter on length (the Agora keys are all version 4).

Reasons for a missing fingerprint:

- ``empty``: a blank or missing value;
- ``no key block``: no ``BEGIN PGP PUBLIC KEY BLOCK`` marker;
- ``bad base64``: no base64 body, or (without a checksum) none that starts a
  plausible public-key packet;
- ``crc mismatch``: a checksum is present but matches no reading of the body
  (the body or the checksum was altered);
- ``truncated``: no checksum, and the public-key packet is cut short;
- ``not a public key packet``: the checksum matches, but the first packet is
  something else (a secret key, a subkey, a signature, a user ID);
- ``unsupported version N``: the checksum matches, but the key packet is of
  another version (or a version 3 key that is not RSA). Without a checksum
  such a packet cannot be told from a wrong start offset.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import math
import re
from typing import NamedTuple

import pandas as pd

__all__ = ["PgpResult", "crc24", "fingerprint", "fingerprints"]


class PgpResult(NamedTuple):
    """A fingerprint (upper-case hex) or None with the reason it is missing."""

    fingerprint: str | None
    reason: str | None


# --- CRC24 (RFC 4880 §6.1), table driven ---------------------------------

_CRC24_INIT = 0xB704CE
_CRC24_POLY = 0x1864CFB


def _crc24_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC24_TABLE = _crc24_table()


def crc24(data: bytes) -> int:
    """The OpenPGP CRC24 of ``data`` (``crc24(b"123456789") == 0x21CF02``)."""
    crc = _CRC24_INIT
    table = _CRC24_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ byte]
    return crc


# --- packets -------------------------------------------------------------

_PUBLIC_KEY_TAG = 6


def _packet_header(data: bytes) -> tuple[int, int, int] | None:
    """(tag, body offset, body length) of the first packet, or None if malformed.

    The body may extend past the end of ``data`` (the caller checks). Partial
    and indeterminate lengths never occur in key packets and count as malformed.
    """
    if not data or not data[0] & 0x80:
        return None
    first = data[0]
    if first & 0x40:  # new format (RFC 4880 §4.2.2)
        if len(data) < 2:
            return None
        tag, octet = first & 0x3F, data[1]
        if octet < 192:
            return tag, 2, octet
        if octet < 224:
            if len(data) < 3:
                return None
            return tag, 3, ((octet - 192) << 8) + data[2] + 192
        if octet == 255:
            if len(data) < 6:
                return None
            return tag, 6, int.from_bytes(data[2:6], "big")
        return None
    tag, kind = (first >> 2) & 0x0F, first & 0x03  # old format (§4.2.1)
    if kind == 3:
        return None
    size = 1 << kind
    if len(data) < 1 + size:
        return None
    return tag, 1 + size, int.from_bytes(data[1 : 1 + size], "big")


def _mpis(buf: bytes, pos: int, count: int) -> int | None:
    """Offset after ``count`` MPIs starting at ``pos``, or None if they overrun."""
    for _ in range(count):
        if pos + 2 > len(buf):
            return None
        pos += 2 + (int.from_bytes(buf[pos : pos + 2], "big") + 7) // 8
    return pos if pos <= len(buf) else None


def _oid(buf: bytes, pos: int) -> int | None:
    if pos >= len(buf) or buf[pos] in (0, 0xFF):
        return None
    pos += 1 + buf[pos]
    return pos if pos <= len(buf) else None


# Algorithm id -> number of MPIs of the public key (RFC 4880 §5.5.2, RFC 9580 §5.5.5).
_MPI_COUNTS = {1: 2, 2: 2, 3: 2, 16: 3, 17: 4, 20: 3}
_FIXED_SIZES = {25: 32, 26: 56, 27: 32, 28: 57}  # X25519, X448, Ed25519, Ed448
_KNOWN_ALGORITHMS = frozenset(_MPI_COUNTS) | frozenset(_FIXED_SIZES) | {18, 19, 22}


def _material_fits(algo: int, buf: bytes, pos: int) -> bool:
    """Whether the public key material of ``algo`` fills ``buf[pos:]`` exactly."""
    end: int | None
    if algo in _MPI_COUNTS:
        end = _mpis(buf, pos, _MPI_COUNTS[algo])
    elif algo in (19, 22):  # ECDSA, EdDSA: curve OID, point
        end = _oid(buf, pos)
        end = None if end is None else _mpis(buf, end, 1)
    elif algo == 18:  # ECDH: curve OID, point, KDF parameters
        end = _oid(buf, pos)
        end = None if end is None else _mpis(buf, end, 1)
        if end is not None and end < len(buf):
            end = end + 1 + buf[end]
    elif algo in _FIXED_SIZES:
        end = pos + _FIXED_SIZES[algo]
    else:
        return False
    return end == len(buf)


def _plausible_key_start(key: bytes) -> bool:
    """Whether the start of a cut-short packet body looks like a public key."""
    if not key or key[0] not in (2, 3, 4, 5, 6):
        return False
    algo_at = 7 if key[0] in (2, 3) else 5
    return len(key) <= algo_at or key[algo_at] in _KNOWN_ALGORITHMS


def _key_fingerprint(key: bytes, strict: bool) -> PgpResult | None:
    """Fingerprint of a public-key packet body.

    ``strict`` (no checksum vouches for the bytes): None unless the packet is a
    key of a known version whose material fills it exactly, since the bytes
    may then come from a wrong start offset.
    """
    version = key[0] if key else None
    if version == 4 and 6 <= len(key) <= 0xFFFF:
        if strict and not _material_fits(key[5], key, 6):
            return None
        digest = hashlib.sha1(b"\x99" + len(key).to_bytes(2, "big") + key)
        return PgpResult(digest.hexdigest().upper(), None)
    if version in (2, 3) and len(key) >= 8 and key[7] in (1, 2, 3):  # v3 keys are RSA only
        end_n = _mpis(key, 8, 1)
        end_e = None if end_n is None else _mpis(key, end_n, 1)
        if end_e is not None and (end_e == len(key) or not strict):
            digest = hashlib.md5(key[10:end_n] + key[end_n + 2 : end_e], usedforsecurity=False)
            return PgpResult(digest.hexdigest().upper(), None)
    if version in (5, 6) and len(key) >= 10:
        fits = int.from_bytes(key[6:10], "big") == len(key) - 10
        if not strict or (fits and _material_fits(key[5], key, 10)):
            prefix = b"\x9a" if version == 5 else b"\x9b"
            digest = hashlib.sha256(prefix + len(key).to_bytes(4, "big") + key)
            return PgpResult(digest.hexdigest().upper(), None)
    if strict:
        return None
    if version is None or len(key) < {2: 8, 3: 8, 4: 6, 5: 10, 6: 10}.get(version, 1):
        return PgpResult(None, "truncated")
    if version == 4:  # over 65535 octets: no two-octet length, not a real key
        return PgpResult(None, "not a public key packet")
    if version in (2, 3) and key[7] in (1, 2, 3):
        return PgpResult(None, "truncated")  # the MPIs overrun the packet
    return PgpResult(None, f"unsupported version {version}")


# --- armor ---------------------------------------------------------------

_BEGIN = re.compile(r"-{2,}\s*BEGIN\s+PGP\s+PUBLIC\s+KEY\s+BLOCK\s*-{2,}", re.I)
_END = re.compile(r"(?:-\s+)?-{2,}\s*END\s+PGP\s+PUBLIC\s+KEY\s+BLOCK\s*-{2,}", re.I)
_TAG = re.compile(r"<[^<>]{0,200}>")
_CHECKSUM = re.compile(r"=([A-Za-z0-9+/]{4})$")
_DAMAGED_CHECKSUM = re.compile(r"=+[A-Za-z0-9+/]{1,8}$")
_TRAILING_JUNK = re.compile(r"[^A-Za-z0-9+/=]+$")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_MAX_CANDIDATES = 64
# Packets other than a public key that a pasted block may start with (a secret
# key or subkey, a public subkey, a signature, a user ID or attribute): with a
# matching checksum they are reported as "not a public key packet".
_OTHER_FIRST_TAGS = frozenset({2, 5, 7, 13, 14, 17})
# Ranks of failure reasons when a text holds several blocks: the most telling wins.
_RANK = {"bad base64": 0, "truncated": 1, "crc mismatch": 1, "not a public key packet": 2}


def _b64decode(text: str) -> bytes:
    if len(text) % 4 == 1:  # a dangling character carries no whole octet
        text = text[:-1]
    return binascii.a2b_base64(text + "=" * (-len(text) % 4))


def _read_block(block: str) -> PgpResult:
    # trailing junk: a dash-escaped END line ("- -----END"), an ellipsis
    text = _TRAILING_JUNK.sub("", "".join(block.split()))
    checksum = None
    match = _CHECKSUM.search(text)
    if match:
        checksum = int.from_bytes(binascii.a2b_base64(match[1]), "big")
        text = text[: match.start()]
    else:  # a damaged checksum ("=KUs") would hide the body
        text = _DAMAGED_CHECKSUM.sub("", text)
    text = text.rstrip("=")
    run_start = max((m.end() for m in _NOT_BASE64.finditer(text)), default=0)
    run = text[run_start:]
    saw_truncated_key = False
    for offset in range(min(len(run), _MAX_CANDIDATES)):
        head_bytes = _b64decode(run[offset : offset + 24])
        head = _packet_header(head_bytes)
        if head is None:
            continue
        tag, start, length = head
        if checksum is None:  # only a plausible public-key packet can start the body
            if tag != _PUBLIC_KEY_TAG or not _plausible_key_start(head_bytes[start:]):
                continue
        elif tag != _PUBLIC_KEY_TAG and tag not in _OTHER_FIRST_TAGS:
            continue
        data = _b64decode(run[offset:])
        if checksum is not None:
            if crc24(data) != checksum:
                continue
            if tag != _PUBLIC_KEY_TAG:
                return PgpResult(None, "not a public key packet")
            if start + length > len(data):
                return PgpResult(None, "truncated")
            return _key_fingerprint(data[start : start + length], strict=False)
        if start + length > len(data):
            saw_truncated_key = True
            continue
        result = _key_fingerprint(data[start : start + length], strict=True)
        if result is not None:
            return result
    if checksum is not None and run:
        return PgpResult(None, "crc mismatch")
    if saw_truncated_key:
        return PgpResult(None, "truncated")
    return PgpResult(None, "bad base64")


def fingerprint(armored: object) -> PgpResult:
    """Fingerprint of the first public key in a (possibly mangled) armored block.

    Never raises: a value without a readable key gives ``fingerprint=None`` and
    a short ``reason`` (see the module docstring).
    """
    if not isinstance(armored, str):
        if (
            armored is None
            or armored is pd.NA
            or (isinstance(armored, float) and math.isnan(armored))
        ):
            return PgpResult(None, "empty")
        armored = str(armored)
    if not armored.strip():
        return PgpResult(None, "empty")
    text = _TAG.sub("\n", re.sub(r"<br\s*/?>", "\n", armored, flags=re.I))
    if "&" in text:
        text = html.unescape(text)
    begins = list(_BEGIN.finditer(text))
    if not begins:
        return PgpResult(None, "no key block")
    best: PgpResult | None = None
    for i, begin in enumerate(begins):
        stop = begins[i + 1].start() if i + 1 < len(begins) else len(text)
        end = _END.search(text, begin.end(), stop)
        result = _read_block(text[begin.end() : end.start() if end else stop])
        if result.fingerprint is not None or result.reason.startswith("unsupported"):
            return result
        if best is None or _RANK[result.reason] > _RANK[best.reason]:
            best = result
    return best


def fingerprints(values: pd.Series) -> pd.DataFrame:
    """``fingerprint`` and ``reason`` for every value, each distinct value read once."""
    values = pd.Series(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [fingerprint(value) for value in uniques] + [PgpResult(None, "empty")]
    fps = pd.array([r.fingerprint for r in results], dtype="str")
    reasons = pd.array([r.reason for r in results], dtype="str")
    return pd.DataFrame(
        {"fingerprint": fps.take(codes), "reason": reasons.take(codes)}, index=values.index
    )
