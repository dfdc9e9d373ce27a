"""Vendor pseudonyms: keyed hashes that replace aliases past the cleaning stage.

The clean stage writes its tables with the aliases as scraped into a private
folder (``private/``, never published, never committed). Identity matching
across markets needs the aliases themselves (normalised forms, edit
distances), so it runs there too (rule ``identities``). What is published
under ``results/`` carries pseudonyms instead: HMAC-SHA256 of the value under
a secret key, so equal aliases stay equal (vendor counts, panels, migration
are unchanged) while an alias cannot be recovered or confirmed without the
key. PGP fingerprints are pseudonymised the same way: a fingerprint names a
vendor as surely as an alias does.

The key comes from the environment variable ``DNM_PSEUDONYM_KEY`` or from a
local key file (``privacy.key_file`` in the config, default
``secrets/pseudonym.key``, git-ignored). Simulated datasets have no real
vendors: they always use the public, documented ``SIMULATED_DATA_KEY``, so
that their pseudonyms, and with them every result that orders vendors by
pseudonym (the vendor bootstrap's clusters), are the same whatever key the
real data is published under. A real dataset without a key is an error that
says how to make one.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

KEY_ENV = "DNM_PSEUDONYM_KEY"
DEFAULT_KEY_FILE = "secrets/pseudonym.key"
# Not a secret: simulated vendors are invented, and a fixed key keeps their
# pseudonyms (and the results of the simulated data) the same on every machine
# and under any key of the real data.
SIMULATED_DATA_KEY = "dnmarkets-simulated-data-not-secret"
# Fields holding an alias or a key fingerprint, in clean tables and in the raw
# JSON of quarantined rows.
VENDOR_FIELDS = ("vendor", "vendor_key", "pgp_fingerprint")
_PREFIX = {"vendor": "v", "vendor_key": "v", "pgp_fingerprint": "k", "alias": "v", "pgp": "k"}
_DIGITS = 16  # hex digits kept: 64 bits, collisions negligible below a billion vendors


class PseudonymKeyError(RuntimeError):
    """No key for a real dataset."""


def load_key(dataset: str, kind: str, key_file: str | Path = DEFAULT_KEY_FILE) -> bytes:
    """The pseudonym key: the public one for simulated data; else the environment,
    then the key file."""
    if kind == "simulated":
        return SIMULATED_DATA_KEY.encode("utf-8")
    value = os.environ.get(KEY_ENV, "")
    if not value and Path(key_file).is_file():
        value = Path(key_file).read_text(encoding="utf-8").strip()
    if not value:
        raise PseudonymKeyError(
            f"dataset {dataset}: no pseudonym key for vendor aliases. Set {KEY_ENV} or write "
            f"a key to {key_file} (for example: mkdir -p {Path(key_file).parent} && "
            f"python -c 'import secrets; print(secrets.token_hex(32))' > {key_file}). "
            "Keep the key private and keep it: the same key gives the same pseudonyms."
        )
    return value.encode("utf-8")


def new_key() -> str:
    return secrets.token_hex(32)


def key_id(key: bytes) -> str:
    """A public fingerprint of a key: which key made a table, without revealing it."""
    return hmac.new(key, b"dnmarkets key id", hashlib.sha256).hexdigest()[:12]


@functools.lru_cache(maxsize=2**18)  # the same aliases recur in every batch of a table
def pseudonym(value: str, key: bytes, prefix: str = "v") -> str:
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{prefix}_{digest[:_DIGITS]}"


def pseudonymise(values: pd.Series, key: bytes, prefix: str = "v") -> pd.Series:
    """Keyed pseudonyms of a string column; missing and empty values stay as they are.

    A '|'-joined list (the PGP keys of an account) is pseudonymised element by element.
    """
    uniques = pd.unique(values.dropna())
    mapping = {u: _pseudonym_list(u, key, prefix) for u in uniques}
    out = values.map(mapping)
    return out.astype(values.dtype) if values.dtype != object else out


def _pseudonym_list(text, key: bytes, prefix: str) -> str:
    """The pseudonym of one value of a column: '' stays '', a '|'-list element-wise."""
    if text == "":
        return ""
    return "|".join(pseudonym(part, key, prefix) for part in str(text).split("|"))


def pseudonymise_arrow(
    values: pa.Array | pa.ChunkedArray, key: bytes, prefix: str = "v", memo: dict | None = None
) -> pa.Array:
    """:func:`pseudonymise` of an Arrow string column: each distinct value is hashed
    once (via its dictionary), the column itself never leaves Arrow. `memo` carries
    the pseudonyms from one batch of a table to the next."""
    memo = {} if memo is None else memo
    values = _one_chunk(values)
    encoded = pc.dictionary_encode(values)
    mapped = []
    for value in encoded.dictionary.to_pylist():
        out = memo.get(value)
        if out is None:
            out = memo[value] = _pseudonym_list(value, key, prefix)
        mapped.append(out)
    return pa.array(mapped, type=values.type).take(encoded.indices)


def _one_chunk(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.Array):
        return values
    # combine_chunks copies even a single chunk
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


MIN_SCRUBBED_ALIAS = 4  # shorter aliases match inside ordinary words


def without_alias(title: str, alias: str, key: bytes) -> str:
    """`title` with its vendor's own alias (any case) replaced by the alias's pseudonym:
    vendors brand their listings ("KwikDrugs 1g cocaine")."""
    if len(alias) < MIN_SCRUBBED_ALIAS:
        return title
    return _alias_pattern(alias).sub(pseudonym(alias, key, "v"), title)


@functools.lru_cache(maxsize=2**16)
def _alias_pattern(alias: str) -> re.Pattern:
    # compiled once per alias: re's own cache holds 512 patterns, and a table has
    # thousands of aliases, so re.sub compiled again for most titles (most of the
    # publish_clean job's time)
    return re.compile(re.escape(alias), flags=re.IGNORECASE)


def scrub_own_alias(titles: pd.Series, aliases: pd.Series, key: bytes) -> pd.Series:
    """:func:`without_alias` over a table's titles, once per distinct (title, alias)."""
    pairs = pd.DataFrame({"title": titles, "alias": aliases})
    unique = pairs[pairs["title"].notna() & pairs["alias"].notna()].drop_duplicates()
    mapping = {}
    for title, alias in zip(unique["title"], unique["alias"], strict=True):
        scrubbed = without_alias(title, alias, key)
        if scrubbed != title:
            mapping[(title, alias)] = scrubbed
    if not mapping:
        return titles
    hit = [mapping.get((t, a)) for t, a in zip(titles, aliases, strict=True)]
    out = titles.copy()
    changed = pd.Series([h is not None for h in hit], index=titles.index)
    out[changed] = [h for h in hit if h is not None]
    return out


def _ascii_containment(titles: pa.Array, aliases: pa.Array) -> pa.Array:
    """Per row: does the lower-cased title contain the lower-cased alias (row-wise
    needles, which pyarrow's substring kernels do not take; DuckDB's do)."""
    con = _duckdb()
    con.register("pairs", pa.table({"title": titles, "alias": aliases}))
    try:
        hit = con.sql("SELECT contains(lower(title), lower(alias)) AS hit FROM pairs")
        return _one_chunk(hit.to_arrow_table().column("hit"))
    finally:
        con.unregister("pairs")


@functools.cache
def _duckdb():
    import duckdb

    return duckdb.connect(config={"threads": 1})  # in order, and one core per job


def scrub_own_alias_arrow(titles: pa.Array, aliases: pa.Array, key: bytes) -> pa.Array:
    """:func:`scrub_own_alias` on Arrow columns. A title can only change where the
    alias (of at least MIN_SCRUBBED_ALIAS characters) occurs in it ignoring case:
    for ASCII title and alias that is exactly ASCII containment, found vectorised;
    rows with other characters (where re's case folding goes beyond ASCII) and the
    hits go through :func:`without_alias` itself, once per distinct pair."""
    titles, aliases = _one_chunk(titles), _one_chunk(aliases)
    long_alias = pc.greater_equal(pc.utf8_length(aliases), MIN_SCRUBBED_ALIAS)
    ascii_pair = pc.and_(pc.string_is_ascii(titles), pc.string_is_ascii(aliases))
    hit = _ascii_containment(titles, aliases)
    possible = pc.and_(long_alias, pc.or_(pc.invert(ascii_pair), hit))
    possible = pc.and_(possible, pc.and_(pc.is_valid(titles), pc.is_valid(aliases)))
    possible = pc.fill_null(possible, False)
    if not pc.any(possible).as_py():
        return titles
    done: dict[tuple[str, str], str] = {}
    scrubbed = []
    for pair in zip(
        titles.filter(possible).to_pylist(), aliases.filter(possible).to_pylist(), strict=True
    ):
        out = done.get(pair)
        if out is None:
            out = done[pair] = without_alias(pair[0], pair[1], key)
        scrubbed.append(out)
    return pc.replace_with_mask(titles, possible, pa.array(scrubbed, type=titles.type))


def publish_arrow(table: pa.Table, key: bytes, memo: dict | None = None) -> pa.Table:
    """:func:`publish_table` of an Arrow table (a batch of a clean table); `memo`
    keeps the pseudonyms of values already seen in earlier batches."""
    memo = {} if memo is None else memo
    columns = dict(zip(table.column_names, table.columns, strict=True))
    if "title" in columns and "vendor" in columns:
        columns["title"] = scrub_own_alias_arrow(columns["title"], columns["vendor"], key)
    for name in table.column_names:
        if name in _PREFIX:
            prefix = _PREFIX[name]
            columns[name] = pseudonymise_arrow(
                columns[name], key, prefix, memo.setdefault(prefix, {})
            )
    return pa.Table.from_arrays(list(columns.values()), schema=table.schema)


def publish_table(frame: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """A clean table with every alias and fingerprint column pseudonymised (and the
    vendor's own alias inside listing titles)."""
    out = frame.copy()
    if "title" in out.columns and "vendor" in out.columns:
        out["title"] = scrub_own_alias(out["title"], out["vendor"], key)
    for column in out.columns:
        if column in _PREFIX:
            out[column] = pseudonymise(out[column], key, _PREFIX[column])
    return out


def publish_quarantine(frame: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Quarantined rows keep their raw fields (for the reader checking a reason) with
    the alias and fingerprint fields pseudonymised inside the raw JSON."""
    return frame.assign(raw=[_scrub_raw(r, key) for r in frame["raw"]])


def publish_quarantine_arrow(table: pa.Table, key: bytes) -> pa.Table:
    """:func:`publish_quarantine` of an Arrow table: only the raw column is rebuilt."""
    # a dict per row, freed at once: the cyclic garbage collector, triggered by the
    # allocations, would only rescan them (a third of the time)
    enabled = gc.isenabled()
    gc.disable()
    try:
        raw = [_scrub_raw(r, key) for r in table.column("raw").to_pylist()]
    finally:
        if enabled:
            gc.enable()
    index = table.column_names.index("raw")
    return table.set_column(index, table.field(index), pa.array(raw, type=table.field(index).type))


def _scrub_raw(raw: str, key: bytes) -> str:
    """One quarantined row's raw JSON with its alias and fingerprint fields pseudonymised."""
    record = json.loads(raw)
    alias, title = record.get("vendor"), record.get("title")
    if isinstance(alias, str) and isinstance(title, str):
        record["title"] = without_alias(title, alias, key)
    for field in VENDOR_FIELDS:
        value = record.get(field)
        if isinstance(value, str) and value:
            record[field] = pseudonym(value, key, _PREFIX[field])
    # fields past the header may be a shifted alias: never published as scraped
    if "_extra_fields" in record:
        record["_extra_fields"] = [pseudonym(str(v), key, "x") for v in record["_extra_fields"]]
    return _JSON_ENCODER.encode(record)


_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False)
