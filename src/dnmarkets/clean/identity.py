"""Vendor identities across markets: alias normalisation, fuzzy matching, PGP keys.

A *node* is one vendor account on one market: a (market, vendor_key) pair of
the clean tables. Two nodes on different markets are linked as the same
identity by any of three rules, and identities are the connected components
of the links (union-find):

* ``pgp``: the profiles show the same PGP fingerprint. A fingerprint shown by
  more than one account of the same market is ambiguous and not used.
* ``alias``: the *identity keys* of the aliases are equal. The identity key
  (:func:`identity_key`) goes further than the cleaning's ``vendor_key``: after
  casefolding it drops a trailing country code written as a separate token
  (``Lady_Amsterdam_NL``), trailing digits and decorative suffixes
  (``official``, ``shop``, ``store``, ``reloaded``, ``back``, ...) and
  decorative prefixes (``real``, ``new``, ``the``, ``official``), as long as
  ``min_alias_length`` characters remain. Guardrails: keys shorter than
  ``min_alias_length`` or in a list of generic names (``shop``, ``pharma``,
  ``vendor``, ...) never link by alias, and a key shared by two accounts of
  the same market is ambiguous and does not link either.
* ``fuzzy``: identity keys of at least ``fuzzy_min_length`` characters with a
  similarity ratio (difflib's ``SequenceMatcher``, 2 x matches / total length)
  of at least ``fuzzy_threshold``, unless both accounts show PGP keys and
  none is shared (the keys contradict a fuzzy alias match; an exact alias match
  is kept, because migrants do change keys).

Two guards keep identities from chaining distinct vendors together where aliases
are crowded (many vendors named from a few words plus a number):

* *merged accounts are leaves*: an account whose rows show more than one alias
  up to case and separators (``DrWhite7`` and ``DrWhite42``, both under
  vendor_key ``drwhite`` because the cleaning drops trailing digits) is several
  vendors in one row (a market does not show two names for one account). It
  joins one identity, by its strongest link, and no more, so it cannot bridge
  two vendors; and its PGP keys, being several vendors', neither refuse nor
  support a name link (column ``alias_forms`` of :func:`account_table`).
* *one account per market*: links are taken strongest rule first, and a link that
  would put two accounts of the same market into one identity is refused. A vendor
  needs one account per market to be followed across markets, and without this an
  account showing several keys or a common alias joins everything it touches: at
  100 times the simulated vendors one identity held 9,716 accounts.

At the simulator's default size both change almost nothing; at 10 and 100 times
its vendors pairwise precision went from 0.82 and 0.02 to 0.992 and 0.998, with
recall 0.985 and 0.986 as before (tests/clean/test_identity.py plants such a case).
Precision is measured on accounts with one true vendor only: at those scales the
simulator names most vendors by a stem plus a number, vendor_key drops the
number, and a quarter (10x) to two fifths (100x) of the accounts hold several
vendors, which no matching rule can undo; the migration estimates stay off there.

:func:`pairwise_scores` measures the matching against known true identities
(the simulator's): precision and recall over pairs of nodes on different
markets.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict

import numpy as np
import pandas as pd

from dnmarkets.clean.text import ALIAS_SEPARATORS_RE, clean_text, strip_affixes
from dnmarkets.core.configcheck import schema_defaults

# used where settings leave a key out (tests, notebooks); the workflow passes them all
MATCHING = schema_defaults("analysis.migration.matching")
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]")
# decorative parts that vendors add to an alias they already use elsewhere
SUFFIXES = ("official", "shop", "store", "reloaded", "back", "returns", "again")
PREFIXES = ("official", "real", "the", "new", "original")
# two-letter country tokens at the end (``_NL``): ISO 3166-1 alpha-2 plus UK
GENERIC = frozenset(
    {
        "admin",
        "best",
        "cannabis",
        "chemist",
        "coke",
        "connect",
        "dealer",
        "drugs",
        "market",
        "moderator",
        "pharma",
        "pharmacy",
        "plug",
        "quality",
        "seller",
        "shop",
        "store",
        "support",
        "test",
        "vendor",
        "weed",
    }
)


@functools.cache
def _country_tokens() -> frozenset[str]:
    from dnmarkets.clean.countries import iso_table

    return frozenset(c.casefold() for c in iso_table()["alpha2"]) | {"uk", "eu"}


@functools.lru_cache(maxsize=200_000)
def identity_key(alias: str | None, min_length: int = MATCHING["min_alias_length"]) -> str:
    """Normalised alias for matching across markets (see the module docstring).

    >>> identity_key("Lady_Amsterdam_NL"), identity_key("RealDrWhite"), identity_key("abc1")
    ('ladyamsterdam', 'drwhite', 'abc1')
    """
    if not isinstance(alias, str):
        return ""
    text = unicodedata.normalize("NFKC", clean_text(alias)).casefold()
    tokens = [t for t in ALIAS_SEPARATORS_RE.split(text) if t]
    # a trailing country code or decorative word written as its own token
    while len(tokens) > 1 and (tokens[-1] in _country_tokens() or tokens[-1] in SUFFIXES):
        if len(_NON_ALNUM_RE.sub("", "".join(tokens[:-1]))) < min_length:
            break
        tokens.pop()
    key = _NON_ALNUM_RE.sub("", "".join(tokens))
    return strip_affixes(key, SUFFIXES, min_length, PREFIXES)


def is_linkable_alias(key: str, min_length: int) -> bool:
    """Guardrail: long enough and not a generic word."""
    return len(key) >= min_length and key not in GENERIC


def normalise_fingerprint(fp) -> str:
    """40 upper-case hex digits, or '' when missing or malformed."""
    if not isinstance(fp, str):
        return ""
    fp = re.sub(r"[^0-9A-Fa-f]", "", fp).upper()
    return fp if len(fp) == 40 else ""


def account_table(listings: pd.DataFrame, vendors: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (market, vendor_key): the alias most often shown and the
    PGP fingerprints (most frequent first, '|'-joined) from profile sightings.

    `listings` may instead hold the sightings counted per (market, vendor_key,
    vendor) in a column `n` (alias_counts, read out of core): the same table. So
    may `vendors`, counted per (market, vendor_key, vendor, pgp_fingerprint)."""
    keys = ["market", "vendor_key", "vendor"]
    if "n" not in listings:
        listings = listings[keys].assign(n=1)
    if vendors is not None and "n" not in vendors:
        vendors = vendors[[*keys, "pgp_fingerprint"]].assign(n=1)
    parts = [listings[[*keys, "n"]]]
    if vendors is not None and len(vendors):
        parts.append(vendors[[*keys, "n"]])
    rows = pd.concat(parts, ignore_index=True)
    rows = rows[rows["vendor_key"].astype(str) != ""]
    counts = rows.groupby(keys)["n"].sum().reset_index()
    counts = counts.sort_values(
        ["market", "vendor_key", "n", "vendor"], ascending=[True, True, False, True]
    )
    nodes = counts.drop_duplicates(["market", "vendor_key"])[["market", "vendor_key", "vendor"]]
    nodes = nodes.rename(columns={"vendor": "alias"}).reset_index(drop=True)
    # distinct aliases up to case and separators: more than one means the account is
    # several accounts that the cleaning's vendor_key merged (DrWhite7, DrWhite42)
    exact = {v: exact_key(v) for v in pd.unique(counts["vendor"])}
    forms = counts.assign(e=counts["vendor"].map(exact)).groupby(["market", "vendor_key"])["e"]
    idx = pd.MultiIndex.from_frame(nodes[["market", "vendor_key"]])
    nodes["alias_forms"] = forms.nunique().reindex(idx).to_numpy().astype("int64")
    nodes["pgp"] = ""
    if vendors is not None and len(vendors):
        # normalised once per distinct fingerprint, not per profile sighting
        raw = vendors["pgp_fingerprint"]
        normalised = {v: normalise_fingerprint(v) for v in pd.unique(raw.dropna())}
        fp = vendors[["market", "vendor_key", "n"]].assign(fp=raw.map(normalised).fillna(""))
        fp = fp[fp["fp"] != ""]
        fpc = fp.groupby(["market", "vendor_key", "fp"])["n"].sum().reset_index()
        fpc = fpc.sort_values(["market", "vendor_key", "n", "fp"], ascending=[1, 1, 0, 1])
        joined = fpc.groupby(["market", "vendor_key"])["fp"].agg("|".join)
        idx = pd.MultiIndex.from_frame(nodes[["market", "vendor_key"]])
        nodes["pgp"] = joined.reindex(idx).fillna("").to_numpy()
    nodes = nodes[["market", "vendor_key", "alias", "pgp", "alias_forms"]]
    return nodes.astype({"market": "str", "vendor_key": "str", "alias": "str", "pgp": "str"})


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _pgp_sets(nodes: pd.DataFrame) -> list[frozenset[str]]:
    return [frozenset(p.split("|")) if p else frozenset() for p in nodes["pgp"]]


def exact_key(alias: str | None) -> str:
    """Alias casefolded with everything but letters and digits removed."""
    if not isinstance(alias, str):
        return ""
    return _NON_ALNUM_RE.sub("", unicodedata.normalize("NFKC", clean_text(alias)).casefold())


def _groups(keys: list[str], markets: list[str], min_len: int) -> dict[str, list[int]]:
    """Accounts by key, for linkable keys held by at most one account per market."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        if is_linkable_alias(k, min_len):
            by_key[k].append(i)
    out = {}
    for k, members in by_key.items():
        ms = [markets[i] for i in members]
        if len(members) > 1 and len(set(ms)) == len(ms):
            out[k] = members
    return out


def _pairs(members: list[int], rule: str) -> list[tuple[int, int, str]]:
    return [(a, b, rule) for x, a in enumerate(members) for b in members[x + 1 :]]


def _merged_accounts(nodes: pd.DataFrame) -> list[bool]:
    """Accounts whose rows show more than one alias up to case and separators
    (``DrWhite7`` and ``DrWhite42``, one vendor_key ``drwhite``): one market does not
    let a vendor show two names under one account, so these are several vendors that
    the cleaning's vendor_key put together, and no link of theirs could be trusted."""
    if "alias_forms" not in nodes:
        return [False] * len(nodes)
    return (nodes["alias_forms"].to_numpy() > 1).tolist()


def candidate_links(nodes: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Links (a, b, rule) between node positions of `nodes`, strongest rule first
    (see the module docstring)."""
    threshold = float({**MATCHING, **settings}["fuzzy_threshold"])
    return _links_by_threshold(nodes, settings, [threshold])[threshold]


def _links_by_threshold(
    nodes: pd.DataFrame, settings: dict, thresholds: list[float]
) -> dict[float, pd.DataFrame]:
    """candidate_links for each fuzzy threshold (settings' own ignored), made at once:
    only the fuzzy links depend on the threshold, and those of a higher threshold
    are those of the lowest with a similarity reaching it, in the same order (the
    bound of _possible_pairs is below every similarity, so a pair it keeps for a
    high threshold it keeps for a lower one)."""
    s = {**MATCHING, **settings}
    min_len = int(s["min_alias_length"])
    markets = nodes["market"].tolist()
    pgps = _pgp_sets(nodes)
    aliases = nodes["alias"].tolist()
    links: list[tuple[int, int, str]] = []
    # PGP: fingerprints shown by exactly one account per market
    by_fp: dict[str, list[int]] = defaultdict(list)
    for i, fps in enumerate(pgps):
        for fp in sorted(fps):  # a fixed order: the rules below depend on it
            by_fp[fp].append(i)
    for members in by_fp.values():
        per_market = defaultdict(list)
        for i in members:
            per_market[markets[i]].append(i)
        usable = [v[0] for v in per_market.values() if len(v) == 1]
        # every pair, not a star: a link the one-account-per-market rule refuses
        # must not cut the others off
        links += _pairs(usable, "pgp")
    # the same alias up to case and separators
    exact = [exact_key(a) for a in aliases]
    for members in _groups(exact, markets, min_len).values():
        links += _pairs(members, "alias")
    # the same alias after dropping decorations (digits, suffixes, prefixes)
    keys = [identity_key(a, min_len) for a in aliases]
    variant_groups = _groups(keys, markets, min_len)
    for members in variant_groups.values():
        links += _pairs(members, "alias_variant")
    # fuzzy: blocked on the first or last four characters
    fmin = int(s["fuzzy_min_length"])
    fuzzy_thresholds = [float(t) for t in thresholds if float(t) < 1.0]
    similar: list[tuple[str, str, float]] = []  # key pairs at the lowest threshold, in order
    key_members: dict[str, list[int]] = defaultdict(list)
    if fuzzy_thresholds:
        lowest = min(fuzzy_thresholds)
        long_keys = sorted(k for k in set(keys) if len(k) >= fmin and is_linkable_alias(k, min_len))
        for i, k in enumerate(keys):
            key_members[k].append(i)
        blocks: dict[str, list[str]] = defaultdict(list)
        for k in long_keys:
            blocks["^" + k[:4]].append(k)
            blocks["$" + k[-4:]].append(k)
        seen: set[tuple[str, str]] = set()
        for block in blocks.values():
            # pairs in the nested-loop order (x < y), those that cannot reach the
            # threshold left out before difflib is called (see _possible_pairs)
            for x, y in _possible_pairs(block, lowest):
                a, b = block[x], block[y]
                if (a, b) in seen:
                    continue
                seen.add((a, b))
                ratio = _similarity(a, b)
                if ratio >= lowest:
                    similar.append((a, b, ratio))
    out = {}
    for threshold in thresholds:
        fuzzy = []
        if float(threshold) < 1.0:
            fuzzy = [
                (i, j, "fuzzy")
                for a, b, ratio in similar
                if ratio >= float(threshold)
                for i in key_members[a]
                for j in key_members[b]
                if markets[i] != markets[j]
            ]
        out[threshold] = pd.DataFrame(links + fuzzy, columns=["a", "b", "rule"])
    return out


def _similarity(a: str, b: str) -> float:
    """difflib's ratio, ``SequenceMatcher(None, a, b, autojunk=False).ratio()``."""
    n = len(a) + len(b)
    return 2.0 * _matching_characters(a, b) / n if n else 1.0


def _matching_characters(a: str, b: str) -> int:
    """The characters in difflib's matching blocks of `a` and `b` without junk and
    without the autojunk heuristic: its find_longest_match (the longest common
    block, earliest in `a`, then in `b`) applied to the parts left and right of
    each block found, as get_matching_blocks does, without SequenceMatcher's
    bookkeeping (it took half of the identities job at 100 times the data).
    tests/clean/test_identity_counts.py compares it with difflib."""
    b2j: dict[str, list[int]] = {}
    for j, c in enumerate(b):
        b2j.setdefault(c, []).append(j)
    total = 0
    stack = [(0, len(a), 0, len(b))]
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        besti, bestj, bestsize = alo, blo, 0
        j2len: dict[int, int] = {}  # length of the match ending at a[i-1], b[j]
        for i in range(alo, ahi):
            newj2len = {}
            for j in b2j.get(a[i], ()):
                if j < blo:
                    continue
                if j >= bhi:
                    break
                k = newj2len[j] = j2len.get(j - 1, 0) + 1
                if k > bestsize:
                    besti, bestj, bestsize = i - k + 1, j - k + 1, k
            j2len = newj2len
        # without junk, difflib's extension of the block to junk neighbours adds nothing
        if bestsize:
            total += bestsize
            if alo < besti and blo < bestj:
                stack.append((alo, besti, blo, bestj))
            if besti + bestsize < ahi and bestj + bestsize < bhi:
                stack.append((besti + bestsize, ahi, bestj + bestsize, bhi))
    return total


def _possible_pairs(block: list[str], threshold: float) -> list[tuple[int, int]]:
    """(x, y), x < y in row order, of the keys of a block whose lengths differ by at
    most 3 and whose ratio can reach `threshold`.

    difflib's ratio is 2 M / (len a + len b) with M the characters in its matching
    blocks, which are common to both strings, so M is at most the size of the
    multiset intersection of their characters (difflib's own ``quick_ratio``
    bound). That bound is computed here for all pairs of the block at once; the
    comparison is otherwise quadratic in Python and grew to hours at 100 times the
    default data. Pairs above the bound are exactly those the loop would compare."""
    n = len(block)
    if n < 2:
        return []
    chars = sorted(set().union(*block))
    index = {c: i for i, c in enumerate(chars)}
    counts = np.zeros((n, len(chars)), dtype=np.int32)
    for x, key in enumerate(block):
        for c in key:
            counts[x, index[c]] += 1
    lengths = counts.sum(axis=1)
    out: list[tuple[int, int]] = []
    step = max(1, 2_000_000 // (n * len(chars)))  # rows at a time, bounded memory
    for start in range(0, n - 1, step):
        rows = np.arange(start, min(start + step, n - 1))
        common = np.minimum(counts[rows, None, :], counts[None, :, :]).sum(axis=2)
        total = lengths[rows, None] + lengths[None, :]
        ok = (
            (np.arange(n)[None, :] > rows[:, None])
            & (np.abs(lengths[rows, None] - lengths[None, :]) <= 3)
            & (2.0 * common / total >= threshold)
        )
        xs, ys = np.nonzero(ok)
        out += list(zip((rows[xs]).tolist(), ys.tolist(), strict=True))
    return out


# rules whose links are refused when the two sides show PGP keys and share none
WEAK_RULES = ("alias_variant", "fuzzy")


def resolve(nodes: pd.DataFrame, settings: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes with an `identity` column (``id<position of its first account>``)
    and the links, with `used` false where a weak link was refused because the
    PGP keys of the two identities it would join contradict it."""
    nodes = nodes.sort_values(["market", "vendor_key"]).reset_index(drop=True)
    return _resolve_links(nodes, candidate_links(nodes, settings))


def _resolve_links(nodes: pd.DataFrame, links: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """resolve, for nodes in (market, vendor_key) order and their candidate links."""
    uf = _UnionFind(len(nodes))
    keys = {i: set(p) for i, p in enumerate(_pgp_sets(nodes))}
    markets = {i: {m} for i, m in enumerate(nodes["market"].tolist())}
    merged = set(np.flatnonzero(_merged_accounts(nodes)).tolist())
    linked: set[int] = set()  # merged accounts already joined to an identity
    for i in merged:  # their keys are several vendors': no evidence for or against a link
        keys[i] = set()
    used = []
    rules = links["rule"].tolist()
    for a, b, rule in zip(links["a"].tolist(), links["b"].tolist(), rules, strict=True):
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            used.append(True)
            continue
        if (
            # one account per market: otherwise identities chain through hub accounts
            markets[ra] & markets[rb]
            # a merged account joins one identity, its strongest link: a leaf, not a bridge
            or a in linked
            or b in linked
            or (rule in WEAK_RULES and keys[ra] and keys[rb] and not keys[ra] & keys[rb])
        ):
            used.append(False)
            continue
        uf.union(ra, rb)
        root = uf.find(ra)
        keys[root] = keys[ra] | keys[rb]
        markets[root] = markets[ra] | markets[rb]
        linked.update({a, b} & merged)
        used.append(True)
    roots = np.array([uf.find(i) for i in range(len(nodes))], dtype=np.int64)
    out = nodes.assign(identity=[f"id{r:06d}" for r in roots])
    return out, links.assign(used=used)


def pairwise_scores(resolved: pd.DataFrame, truth_uid: pd.Series) -> dict:
    """Precision and recall of the identities over pairs of accounts on
    different markets. `truth_uid` gives the true identity of each row of
    `resolved` (same index); rows without one (NaN) are left out."""
    df = resolved.assign(uid=truth_uid).dropna(subset=["uid"])

    def cross_pairs(groups: list[str]) -> int:
        total = df.groupby(groups).size()
        same_market = df.groupby([*groups, "market"]).size()
        return int((total * (total - 1) // 2).sum() - (same_market * (same_market - 1) // 2).sum())

    predicted = cross_pairs(["identity"])
    true = cross_pairs(["uid"])
    hits = cross_pairs(["identity", "uid"])
    return {
        "accounts": int(len(df)),
        "true_pairs": true,
        "predicted_pairs": predicted,
        "correct_pairs": hits,
        "precision": hits / predicted if predicted else float("nan"),
        "recall": hits / true if true else float("nan"),
    }


def truth_uids(resolved: pd.DataFrame, truth_vendors: pd.DataFrame) -> pd.Series:
    """The simulator's true identity (uid) of each account: the uid whose alias
    on that market has the account's vendor_key; NaN when none or several do."""
    from dnmarkets.clean.text import vendor_keys

    t = truth_vendors.assign(vendor_key=vendor_keys(truth_vendors["alias"]))
    t = t.drop_duplicates(["market", "vendor_key", "uid"])
    t = t[~t.duplicated(["market", "vendor_key"], keep=False)]
    m = resolved[["market", "vendor_key"]].merge(
        t[["market", "vendor_key", "uid"]], on=["market", "vendor_key"], how="left"
    )
    return pd.Series(m["uid"].to_numpy(), index=resolved.index, name="uid")


def threshold_column(threshold: float) -> str:
    """The identity column of `identity_table` for one fuzzy-matching threshold."""
    return f"identity_t{float(threshold):g}"


def identity_table(
    nodes: pd.DataFrame,
    settings: dict,
    key: bytes,
    truth_vendors: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Accounts resolved into identities on the scraped aliases, then published with
    keyed pseudonyms (dnmarkets.clean.privacy): `vendor_key`, `alias` (the exact-match form)
    and `pgp` pseudonymised, `identity` from settings["matching"], one
    `identity_t<threshold>` per settings["sensitivity_thresholds"], and `true_uid`
    (the simulator's identity) when a truth is given. Also the used links by rule."""
    from dnmarkets.clean.privacy import pseudonym, pseudonymise

    matching = settings.get("matching", {})
    main_threshold = float(matching.get("fuzzy_threshold", MATCHING["fuzzy_threshold"]))
    thresholds = [float(t) for t in settings.get("sensitivity_thresholds", [])]
    nodes = nodes.sort_values(["market", "vendor_key"]).reset_index(drop=True)
    # the links of every threshold at once: they differ only in the fuzzy ones
    all_links = _links_by_threshold(nodes, matching, [main_threshold, *thresholds])
    resolved, links = _resolve_links(nodes, all_links[main_threshold])
    columns = {"identity": resolved["identity"]}
    for threshold in settings.get("sensitivity_thresholds", []):
        if float(threshold) == main_threshold:  # the main resolution already
            columns[threshold_column(threshold)] = resolved["identity"]
            continue
        alt, _ = _resolve_links(nodes, all_links[float(threshold)])
        columns[threshold_column(threshold)] = alt["identity"]
    market_key = (resolved["market"] + "\x1f" + resolved["vendor_key"]).tolist()
    out = pd.DataFrame(
        {
            "market": resolved["market"],
            "vendor_key": pseudonymise(resolved["vendor_key"], key),
            "alias": pseudonymise(resolved["alias"].map(exact_key), key),
            "pgp": pseudonymise(resolved["pgp"], key, "k"),
        }
    )
    for name, ids in columns.items():
        # labelled by the pseudonym of a member: position labels would follow alias order
        first = ids.drop_duplicates()  # each identity's first account
        labels = {i: pseudonym(market_key[n], key, "i") for n, i in first.items()}
        out[name] = ids.map(labels).astype("str")
    if truth_vendors is not None:
        out["true_uid"] = truth_uids(resolved, truth_vendors).astype("str")
    out = out.astype({c: "str" for c in ("market", "vendor_key", "alias", "pgp")})
    out = out.sort_values(["market", "vendor_key"]).reset_index(drop=True)
    used = links[links["used"]]["rule"].value_counts().sort_index()
    return out, {str(k): int(v) for k, v in used.items()}
