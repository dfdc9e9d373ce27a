"""Untrusted text from crawls: titles, aliases.

``clean_text`` decodes HTML entities (repeatedly, so ``&amp;amp;`` becomes
``&``), applies Unicode NFKC, removes control and format characters (null
bytes, bidi overrides, zero-width spaces; tabs and newlines become spaces),
collapses whitespace and caps the length at 500 characters. A truncated text
is cut to 499 characters plus "…", so the cut stays visible in the data
(cleaning it again gives the same text); ``clean_text_flagged`` also returns
whether it was cut. Markup is *not* removed: a title such as
``<script>`` stays literal text, and whoever renders it must escape it.

``vendor_key`` is the identity-matching key of a vendor alias.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_TEXT_LENGTH = 500
ELLIPSIS = "…"
_MAX_UNESCAPE_ROUNDS = 20
_WHITESPACE_RE = re.compile(r"\s+")
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_KEEP_AS_SPACE = {"\t", "\n", "\r", "\x0b", "\x0c", "\x85"}


def strip_controls(text: str) -> str:
    """Control and format characters removed; tabs, newlines and CRs become spaces."""
    # printable (str.isprintable: no character of the categories Cc, Cf, Cs, Co, Cn or
    # Z* other than the space) means nothing to drop or replace
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _KEEP_AS_SPACE:
            out.append(" ")
        elif unicodedata.category(ch) not in _DROP_CATEGORIES:
            out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=500_000)
def clean_text_flagged(text: str, max_length: int = MAX_TEXT_LENGTH) -> tuple[str, bool]:
    """Cleaned text and whether it was truncated (see the module docstring)."""
    previous = None
    rounds = 0
    while text != previous and rounds < _MAX_UNESCAPE_ROUNDS:
        previous = text
        text = unicodedata.normalize("NFKC", html.unescape(text))
        rounds += 1
    text = _WHITESPACE_RE.sub(" ", strip_controls(text)).strip()
    if len(text) > max_length:
        return text[: max_length - 1] + ELLIPSIS, True
    return text, False


def clean_text(text: str | None, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Cleaned text; None and NaN give ''."""
    if not isinstance(text, str):
        return ""
    return clean_text_flagged(text, max_length)[0]


# printable ASCII without "&" (no entity to decode), words separated by single spaces,
# nothing at either end: clean_text leaves such a text as it is
_PLAIN_CHAR = r"[\x21-\x25\x27-\x7e]"
_PLAIN_RE = rf"^{_PLAIN_CHAR}+(?: {_PLAIN_CHAR}+)*$"


def _plain(texts: list[str], max_length: int) -> np.ndarray:
    """Per text, True where clean_text would return it unchanged (tested in Arrow's
    RE2, so that only the others pay for the Python cleaning)."""
    try:
        array = pa.array(texts, type=pa.large_string())
    except (UnicodeError, pa.ArrowException):  # lone surrogates: all take the Python path
        return np.zeros(len(texts), dtype=bool)
    return _plain_array(array, max_length)


def _plain_array(array: pa.Array, max_length: int) -> np.ndarray:
    """:func:`_plain` of an Arrow string array."""
    plain = pc.and_(
        pc.match_substring_regex(array, _PLAIN_RE),
        pc.less_equal(pc.utf8_length(array), max_length),
    )
    return plain.to_numpy(zero_copy_only=False)


# printable ASCII without "&", spaces anywhere: clean_text only collapses and trims them
_SPACED_RE = r"^[\x20-\x25\x27-\x7e]*$"


def _spaced_cleaned(array: pa.Array, max_length: int) -> list[str | None]:
    """Per text, clean_text's result where it is printable ASCII without "&" (no entity,
    control or non-ASCII character: only spaces to collapse and trim, done in Arrow) and
    not cut; None for the others."""
    collapsed = pc.utf8_trim(pc.replace_substring_regex(array, " {2,}", " "), " ")
    ok = pc.and_(
        pc.match_substring_regex(array, _SPACED_RE),
        pc.less_equal(pc.utf8_length(collapsed), max_length),
    )
    return pc.if_else(ok, collapsed, None).to_pylist()


def clean_texts(values: pd.Series, max_length: int = MAX_TEXT_LENGTH) -> pd.Series:
    """Vectorised :func:`clean_text` over distinct values (str dtype, same index)."""
    return clean_texts_factorized(values, max_length)[0]


def clean_texts_factorized(
    values: pd.Series, max_length: int = MAX_TEXT_LENGTH
) -> tuple[pd.Series, np.ndarray, list[str], pd.api.extensions.ExtensionArray]:
    """:func:`clean_texts`, with the codes of the distinct raw values and their cleaned
    texts (cleaning may map two raw values to one text), as a list and as a str array,
    so that functions of the cleaned text can run once per value without factorizing
    the column again."""
    values = pd.Series(values)
    codes, dictionary = encode_text(values)
    out, texts, array = clean_coded_texts(codes, dictionary, max_length)
    return pd.Series(out, index=values.index, dtype="str"), codes, texts, array


def clean_coded_texts(
    codes: np.ndarray, dictionary: pa.Array, max_length: int = MAX_TEXT_LENGTH
) -> tuple[pa.Array, list[str], pd.api.extensions.ExtensionArray]:
    """:func:`clean_texts_factorized` of a column already encoded (codes, none missing,
    into the distinct raw texts `dictionary`): the cleaned text of each row (Arrow), and
    the cleaned distinct texts as a list and as a str array."""
    texts = dictionary.to_pylist()
    # only the values that are not plain are cleaned: ASCII ones in Arrow (see
    # _spaced_cleaned), the others in Python; the distinct texts as an Arrow array (the
    # raw one where nothing changed), taken once per row
    changed = []
    rest = np.flatnonzero(~_plain_array(dictionary, max_length))
    spaced = _spaced_cleaned(dictionary.take(pa.array(rest)), max_length)
    for i, text in zip(rest.tolist(), spaced, strict=True):
        if text is None:
            text = clean_text(texts[i], max_length)
        if text != texts[i]:
            texts[i] = text
            changed.append(i)
    cleaned = _replaced(dictionary, changed, [texts[i] for i in changed])
    return cleaned.take(pa.array(codes)), texts, pd.array(cleaned, dtype="str")


def codes_of_rows(values, rows: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """(codes, distinct values) of the rows `rows` of a str column (missing values as
    ''): the column hashed chunk by chunk (:func:`dictionary_codes`) rather than its rows
    taken first, and only the distinct values those rows hold kept, so that per-value
    work skips the others."""
    codes, dictionary = dictionary_codes(pa.array(values))
    codes = codes[rows]
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(dictionary), codes)
        dictionary = pa.concat_arrays([dictionary, pa.array([""], type=dictionary.type)])
    used = np.zeros(len(dictionary), dtype=bool)
    used[codes] = True
    if not used.all():
        codes = (np.cumsum(used) - 1)[codes]
        dictionary = dictionary.filter(pa.array(used))
    return codes, dictionary


def _replaced(array: pa.Array, positions: list[int], values: list[str]) -> pa.Array:
    """`array` with the strings at `positions` replaced by `values`."""
    if not positions:
        return array
    index = np.arange(len(array), dtype=np.int64)
    index[positions] = np.arange(len(array), len(array) + len(positions))
    return pa.concat_arrays([array, pa.array(values, type=array.type)]).take(pa.array(index))


# the characters vendors put between the words of an alias (shared with clean.identity)
ALIAS_SEPARATORS_RE = re.compile(r"[\s_\-.]+")
_SUFFIXES = ("official", "shop", "store")
MIN_STEM = 4


@functools.lru_cache(maxsize=500_000)
def vendor_key(alias: str | None) -> str:
    """Normalised alias for identity matching.

    NFKC + casefold, separators ``_ - .`` and whitespace removed, then, while
    something changes, a trailing ``official``/``shop``/``store`` or trailing
    digits are dropped when at least 4 characters remain
    (``Dr_White-Official`` -> ``drwhite``, ``Pharma2017`` -> ``pharma``, but
    ``abc1`` stays ``abc1``).
    """
    if not isinstance(alias, str):
        return ""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", alias).casefold())
    key = unicodedata.normalize("NFKC", ALIAS_SEPARATORS_RE.sub("", strip_controls(folded)))
    return strip_affixes(key, _SUFFIXES, MIN_STEM)


def strip_affixes(key: str, suffixes, min_length: int, prefixes=()) -> str:
    """Strip trailing digits, then the given suffixes and prefixes, repeatedly, as long
    as at least `min_length` characters remain."""
    changed = True
    while changed:
        changed = False
        stem = key.rstrip("0123456789")
        if stem != key and len(stem) >= min_length:
            key, changed = stem, True
        for suffix in suffixes:
            if key.endswith(suffix) and len(key) - len(suffix) >= min_length:
                key, changed = key[: -len(suffix)], True
        for prefix in prefixes:
            if key.startswith(prefix) and len(key) - len(prefix) >= min_length:
                key, changed = key[len(prefix) :], True
    return key


def vendor_keys(values: pd.Series) -> pd.Series:
    """Vectorised :func:`vendor_key` (str dtype, same index)."""
    values = pd.Series(values)
    codes, dictionary = encode_text(values)
    keys = pa.array([vendor_key(u) for u in dictionary.to_pylist()], type=dictionary.type)
    return pd.Series(keys.take(pa.array(codes)), index=values.index, dtype="str")


def factorize_text(values) -> tuple[np.ndarray, list[str]]:
    """Codes and distinct strings of a column (missing values as ''), for unique-value maps."""
    codes, dictionary = encode_text(values)
    return codes, dictionary.to_pylist()


def encode_text(values) -> tuple[np.ndarray, pa.Array]:
    """:func:`factorize_text` with the distinct strings as an Arrow array: codes (int64,
    in order of first appearance, as pandas.factorize) from Arrow's dictionary encoding,
    which saves converting the column to pandas and the strings back for Arrow kernels."""
    series = pd.Series(values)
    if series.dtype != "str":
        series = series.astype("str")
    array = pa.array(series.array)
    if array.null_count:
        array = pc.fill_null(array, "")
    return dictionary_codes(array)


def dictionary_codes(array) -> tuple[np.ndarray, pa.Array]:
    """(int64 code of each value, missing: -1; the distinct values in order of first
    appearance) of an Arrow string array or chunked array, hashed chunk by chunk:
    Arrow gives every chunk the one dictionary of the whole column, so the column is
    not copied into one chunk first (if the chunks' dictionaries differ, it is). A
    column in runs (a file's crawl times, a constant) is hashed once per run."""
    starts = long_run_starts(array)
    if starts is not None:
        codes, dictionary = _encoded_codes(array.take(pa.array(starts)))
        return np.repeat(codes, np.diff(np.append(starts, len(array)))), dictionary
    return _encoded_codes(array)


def _encoded_codes(array) -> tuple[np.ndarray, pa.Array]:
    """:func:`dictionary_codes` without the run shortcut."""
    encoded = pc.dictionary_encode(array)
    if not isinstance(encoded, pa.ChunkedArray):
        encoded = pa.chunked_array([encoded])
    if encoded.num_chunks == 0:
        return np.empty(0, dtype=np.int64), pa.array([], type=array.type)
    chunks = encoded.chunks
    first = chunks[0].dictionary
    address, size = first.buffers()[1].address, len(first)
    if not all(
        c.dictionary.buffers()[1].address == address and len(c.dictionary) == size for c in chunks
    ):
        chunks = [pc.dictionary_encode(array.combine_chunks())]
    # the chunks' int32 indices written into one int64 array (no concatenated copy)
    codes = np.empty(len(array), dtype=np.int64)
    at = 0
    for chunk in chunks:
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, -1)
        codes[at : at + len(indices)] = indices.to_numpy()
        at += len(indices)
    return codes, chunks[0].dictionary


def long_run_starts(values) -> np.ndarray | None:
    """:func:`run_starts` of a string column in runs of 16 rows or more on average (a
    file's crawl times or snapshot, a constant), None for other columns: hashing a value
    per run is several times cheaper than per row. Its first rows tell which (comparing
    neighbours costs a pass of its own)."""
    n = len(values)
    if n < 2 or len(run_starts(values.slice(0, 4096))) * 16 > min(n, 4096):
        return None
    starts = run_starts(values)
    return starts if len(starts) * 16 < n else None


def run_starts(values) -> np.ndarray:
    """Positions (int64) where a run of one value starts in a non-empty string array
    or chunked array (a missing value equals no neighbour)."""
    n = len(values)
    differ = pc.not_equal(values.slice(1), values.slice(0, n - 1))
    if differ.null_count:
        differ = pc.fill_null(differ, True)
    return np.concatenate([[0], pc.indices_nonzero(differ).to_numpy().astype(np.int64) + 1])
