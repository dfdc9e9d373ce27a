"""Texts of the simulated pages: aliases, PGP keys, listing titles, category paths,
ships-from/to and price texts, in each market's own formats."""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dnmarkets.clean.text import vendor_key
from dnmarkets.sim import columns as C
from dnmarkets.sim.config import FIXED, SimConfig
from dnmarkets.sim.draws import S_TEXT, pick_u, pick_u_many, stream
from dnmarkets.sim.vocabularies import (
    ALIAS_PREFIXES,
    ALIAS_SUFFIXES,
    ALIAS_WORDS,
    CATALOG,
    COUNTRY_VARIANTS,
    DRUG_EXTRAS,
    DRUG_TEMPLATES,
    EMOJI,
    EUROPE_NON_EU,
    HOSTILE_PAYLOADS,
    KINDS,
    NONDRUG_EXTRAS,
    NONDRUG_TEMPLATES,
    REGION_SHIPS_FROM,
    SHIPS_TO_LISTS,
    VOCABS,
)

if TYPE_CHECKING:
    from dnmarkets.sim.listings import Listings
    from dnmarkets.sim.population import Vendors


def _alias_key(alias: str) -> str:
    return re.sub(r"[^0-9a-z]", "", alias.casefold())


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _flag(code: str) -> str:
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code)


def fmt_usd(x: float, dollar: bool) -> str:
    return f"${x:,.2f}" if dollar else f"USD {x:,.2f}"


def _de_number(x: float) -> str:
    return f"{x:,.2f}".replace(",", "\0").replace(".", ",").replace("\0", ".")


def fmt_eur(x: float, prefix: bool) -> str:
    return f"EUR {_de_number(x)}" if prefix else f"{_de_number(x)} €"


def fmt_btc(x: float, prefix: bool) -> str:
    dec = max(5, 3 - math.floor(math.log10(x))) if x > 0 else 5
    if prefix:
        s = f"{x:.{dec}f}".rstrip("0").rstrip(".")
        return f"BTC {s}"
    return f"{x:.{dec}f} BTC"


def fmt_count(n: int, thousands: bool) -> str:
    return f"{n:,}" if thousands else str(n)


def _fmt_qty_num(q: float, decimal_comma: bool) -> str:
    s = f"{q:g}"
    return s.replace(".", ",") if decimal_comma else s


def _quantity_text(kind: str, q: float, dose, u: float, decimal_comma: bool) -> str:
    unit = CATALOG[kind]["unit"]
    if unit == "g":
        if q < 1 and u < 0.5:
            return f"{int(round(q * 1000))}mg"
        if q in (28, 56) and u < 0.6:
            return f"{int(q // 28)}oz" if u < 0.4 else f"{int(q // 28)} oz"
        if q == 1000 and u < 0.5:
            return "1kg"
        num = _fmt_qty_num(q, decimal_comma)
        forms = [f"{num}g", f"{num} g", f"{num} grams", f"{num}gr", f"{num}G"]
        return _nth(forms, u)
    if unit == "ml":
        if q == 1000 and u < 0.5:
            return "1L"
        return f"{int(q)}ml" if u < 0.7 else f"{int(q)} ml"
    if unit == "tab":
        forms = [
            f"{int(q)} tabs",
            f"{int(q)} x {dose}ug",
            f"{int(q)} blotters",
            f"{int(q)}x {dose}ug",
        ]
        return _nth(forms, u)
    forms = [f"{int(q)} x {dose}mg", f"{int(q)}x {dose}mg", f"{int(q)} pills", f"{int(q)} pcs"]
    return _nth(forms, u)


class AliasMaker:
    """Aliases unique after casefolding and removing separators, and unique between
    vendors as the pipeline keys them (:func:`dnmarkets.clean.text.vendor_key`, which
    also drops trailing digits and an "official", "shop" or "store"): two vendors never
    share an account key, as DrWhite7 and DrWhite42 did (one account in the clean
    tables, two vendors in the truth). A vendor's own variants may share its key
    (DrWhite2 after DrWhite): that is what the key is there to link."""

    def __init__(self) -> None:
        self.used: dict[str, None] = {}
        self.owner: dict[str, str] = {}  # vendor_key -> its vendor's first alias

    def _taken_by_other(self, alias: str, owner: str | None) -> bool:
        held = self.owner.get(vendor_key(alias))
        return held is not None and held != owner

    def _claim(self, alias: str, rng: np.random.Generator, owner: str | None = None) -> str:
        """`alias`, or one made from it that is free: `owner` is the vendor's first alias
        (None: a new vendor, whose key no one may hold)."""
        base = alias
        while True:
            if self._taken_by_other(alias, owner):
                # letters, not digits: the key drops trailing digits
                alias += ALIAS_WORDS[int(rng.integers(0, len(ALIAS_WORDS)))]
            elif _alias_key(alias) in self.used or len(_alias_key(alias)) < 3:
                alias = f"{base}{int(rng.integers(2, 1000))}"
            else:
                break
        self.used[_alias_key(alias)] = None
        self.owner.setdefault(vendor_key(alias), owner or alias)
        return alias

    def new(self, rng: np.random.Generator) -> str:
        for _ in range(8):  # a few fresh combinations before making one longer
            alias = self._combination(rng)
            if _alias_key(alias) not in self.used and not self._taken_by_other(alias, None):
                break
        return self._claim(alias, rng)

    @staticmethod
    def _combination(rng: np.random.Generator) -> str:
        u = rng.integers(0, 10_000, size=6)
        w1 = ALIAS_WORDS[u[0] % len(ALIAS_WORDS)]
        w2 = ALIAS_WORDS[u[1] % len(ALIAS_WORDS)]
        pre = ALIAS_PREFIXES[u[2] % len(ALIAS_PREFIXES)]
        suf = ALIAS_SUFFIXES[u[3] % len(ALIAS_SUFFIXES)]
        style = u[4] % 7
        if style == 0:
            alias = pre + w1
        elif style == 1:
            alias = w1 + w2
        elif style == 2:
            alias = f"{w1.lower()}_{w2.lower()}"
        elif style == 3:
            alias = w1 + w2 + suf
        elif style == 4:
            alias = f"{pre}_{w1}"
        elif style == 5:
            alias = f"{w1.lower()}{w2.lower()}{u[5] % 100}"
        else:
            alias = f"{w1}-{w2}".upper() if u[5] % 2 else f"{w1}.{w2}"
        return alias

    def variant(self, alias: str, country: str, rng: np.random.Generator) -> str:
        u = rng.integers(0, 10_000, size=2)
        forms = [
            f"{alias}{u[1] % 98 + 2}",
            f"{alias}_{country}",
            f"Real{alias}",
            f"{alias}Reloaded",
            f"{alias}_Official",
            f"New{alias}",
            f"{alias}_back",
            f"{alias}2",
        ]
        owner = self.owner.get(vendor_key(alias), alias)
        return self._claim(forms[u[0] % len(forms)], rng, owner)


def pgp_keys(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    return [bytes(row).hex().upper() for row in raw]


def alias_mess(alias: str, u: float) -> str:
    if u < 0.25:
        return alias.lower()
    if u < 0.4:
        return alias.upper()
    if u < 0.7:
        return f" {alias} "
    if u < 0.85:
        return f"{alias} "
    return f"  {alias}"


def _nth(options, u: float):
    """The option that the uniform draw `u` falls on (equal weights)."""
    return options[min(int(u * len(options)), len(options) - 1)]


# ships-from region texts of vendors who name no country: group -> (texts, weights)
_REGION_OPTIONS = {k: ([s for s, _ in o], [w for _, w in o]) for k, o in REGION_SHIPS_FROM.items()}


def _ships_from(v: Vendors, uid: int, ui: np.ndarray) -> str:
    """The vendor's country in one of its spellings (mostly its preferred one), or a region."""
    cc = v.country[uid]
    if v.region_only[uid]:
        grp = "eu" if v.eu[uid] else ("europe" if cc in EUROPE_NON_EU else "other")
        opts, ws = _REGION_OPTIONS[grp]
        return opts[pick_u(ui[0], ws)]
    vs = COUNTRY_VARIANTS[cc]
    if ui[0] < FIXED["preferred_country_spelling_share"]:
        j = int(v.pref_variant[uid]) % 100
        j = 0 if j < 55 else 1 + (j - 55) % (len(vs) - 1)
    else:
        j = min(int(ui[1] * len(vs)), len(vs) - 1)
    sf = vs[j]
    if ui[2] < 0.01:
        sf = f"{_flag('GB' if cc == 'GB' else cc)} {sf}"
    return sf


def _ships_to(v: Vendors, uid: int, ships_from: str, ui: np.ndarray) -> str:
    """Where the listing ships: worldwide, a region, the home country or a list."""
    cc = v.country[uid]
    t = ui[3]
    name0 = COUNTRY_VARIANTS[cc][0]
    if t < 0.35:
        return "Worldwide"
    if t < 0.40:
        return "World Wide"
    if t < 0.52:
        return "EU" if v.eu[uid] else "Worldwide"
    if t < 0.60:
        if v.eu[uid] or cc in EUROPE_NON_EU:
            return "Europe"
        return "North America" if cc in ("US", "CA") else "Worldwide"
    if t < 0.72:
        return name0 if ui[4] < 0.5 else ships_from
    if t < 0.87:
        return SHIPS_TO_LISTS.get(cc, f"{name0} only")
    if t < 0.92:
        return "Worldwide except USA"
    if t < 0.95:
        return "Worldwide except Australia"
    return "World Wide" if ui[4] < 0.5 else "worldwide"


def _name(kname: str, name_i: int, cc: str, fullwidth: bool) -> str:
    """The product name of a title, with the vendor's country filled in."""
    name = CATALOG[kname]["names"][name_i]
    if isinstance(name, tuple):
        name = name[0]
    name = name.replace("{cc}", cc if cc != "GB" else "UK")
    return _fullwidth(name) if fullwidth else name


def _title(
    kname: str, name_i: int, cc: str, qty: float, dose: float, ui: np.ndarray, decimal_comma: bool
) -> str:
    """The plain title: product name, quantity (drugs) and an extra, after a template
    (the per-listing reference of `listing_texts`' titles)."""
    spec = CATALOG[kname]
    name = _name(kname, name_i, cc, ui[5] < 0.01)
    shown_cc = cc if cc != "GB" else "UK"
    if spec["unit"] is None:
        x = _nth(NONDRUG_EXTRAS, ui[6])
        return _nth(NONDRUG_TEMPLATES, ui[7]).format(n=name, x=x, cc=shown_cc)
    q = _quantity_text(kname, qty, f"{dose:g}", ui[8], decimal_comma)
    x = _nth(DRUG_EXTRAS, ui[6])
    return _nth(DRUG_TEMPLATES, ui[7]).format(n=name, q=q, x=x, cc=shown_cc)


def _dressed(title: str, ui: np.ndarray, escape: bool, hostile: bool) -> str:
    """The title as the page shows it: emoji, a no-break space, HTML escapes, a payload
    (the per-listing reference of `_dressed_titles`)."""
    if ui[10] < 0.03:
        e = EMOJI[int(ui[10] * 1000) % len(EMOJI)]
        title = f"{e} {title} {e}" if ui[11] < 0.5 else f"{title} {e}"
    elif ui[10] < 0.035:
        title = title.replace(" ", "\u00a0", 1)
    if escape or ui[9] > 0.98:
        title = title.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&quot;")
    if hostile:
        payload = HOSTILE_PAYLOADS[int(ui[11] * 1e6) % len(HOSTILE_PAYLOADS)]
        title = f"{title} {payload}" if ui[4] < 0.6 else f"{payload} {title}"
    return title


def _nth_index(u: np.ndarray, n_options: int) -> np.ndarray:
    """`_nth`'s index per draw."""
    return np.minimum((u * n_options).astype(np.int64), n_options - 1)


def _fill_templates(
    templates: list[str], t_idx: np.ndarray, fields: dict[str, pa.Array]
) -> pa.Array:
    """`templates[t].format(**fields)` per row: each template's literal text and fields
    joined per column, for the rows that use it."""
    parts = []
    for t, template in enumerate(templates):
        sel = np.flatnonzero(t_idx == t)
        if not sel.size:
            continue
        pieces: list = []
        for literal, name, spec, conversion in string.Formatter().parse(template):
            if literal:
                pieces.append(literal)
            if name is not None:
                assert not spec and conversion is None, template  # plain {name} only
                pieces.append(C.take(fields[name], sel))
        if len(pieces) == 1:  # a lone field
            pieces.append("")
        parts.append((sel, pc.binary_join_element_wise(*pieces, "")))
    return C.assemble(parts, len(t_idx))


def _where(column: pa.Array, mask: np.ndarray, change) -> pa.Array:
    """The column with `change(values, rows)` applied to the rows where `mask`."""
    rows = np.flatnonzero(mask)
    if not rows.size:
        return column
    return pc.replace_with_mask(column, pa.array(mask), change(C.take(column, rows), rows))


def _dressed_titles(titles: pa.Array, u: np.ndarray, escape: np.ndarray, hostile) -> pa.Array:
    """`_dressed` per title, per column."""
    emoji = np.array(EMOJI, dtype=object)[(u[:, 10] * 1000).astype(np.int64) % len(EMOJI)]

    def with_emoji(t, rows):
        e = C.strings(emoji[rows])
        both = pc.binary_join_element_wise(e, t, e, " ")
        return pc.if_else(pa.array(u[rows, 11] < 0.5), both, pc.binary_join_element_wise(t, e, " "))

    def escaped(t, rows):
        for old, new in (("&", "&amp;"), ("'", "&#39;"), ('"', "&quot;")):
            t = pc.replace_substring(t, old, new)
        return t

    payloads = np.array(HOSTILE_PAYLOADS, dtype=object)
    payload = payloads[(u[:, 11] * 1e6).astype(np.int64) % len(payloads)]

    def with_payload(t, rows):
        p = C.strings(payload[rows])
        after = pc.binary_join_element_wise(t, p, " ")
        return pc.if_else(pa.array(u[rows, 4] < 0.6), after, pc.binary_join_element_wise(p, t, " "))

    titles = _where(titles, u[:, 10] < 0.03, with_emoji)
    nbsp = (u[:, 10] >= 0.03) & (u[:, 10] < 0.035)
    titles = _where(
        titles, nbsp, lambda t, rows: pc.replace_substring(t, " ", "\u00a0", max_replacements=1)
    )
    titles = _where(titles, escape | (u[:, 9] > 0.98), escaped)
    return _where(titles, np.asarray(hostile, dtype=bool), with_payload)


def _quantity_signature(u: np.ndarray) -> list[np.ndarray]:
    """The thresholds `_quantity_text` compares its draw with, and its `_nth` indices."""
    return [u < 0.4, u < 0.5, u < 0.6, u < 0.7, _nth_index(u, 5), _nth_index(u, 4)]


@dataclass
class ListingTexts:
    """The texts of every listing that stay fixed, as Arrow string columns."""

    title: pa.Array
    category: pa.Array
    ships_from: pa.Array
    ships_to: pa.Array
    usd_price: pa.Array  # the price text of markets that show US dollars


TEXT_BLOCK = 250_000  # listings per block: the texts' working memory does not grow with scale


def listing_texts(
    cfg: SimConfig, v: Vendors, lst: Listings, qty, name_i, dose, block: int = TEXT_BLOCK
) -> ListingTexts:
    """Titles, category paths, ships-from/to texts and USD price texts (fixed per listing),
    as Arrow string columns.

    Per column, not per listing: each per-listing function above runs once per distinct
    signature (the values its branches read: the listing's kind, the vendor's country,
    which thresholds its draws cross), titles are filled in per template and dressed
    per column; every text equals the per-listing function's (tests/sim/test_texts.py).
    The listings are taken in blocks of `block`, each with its rows of the (n, 12)
    uniform draws (drawn block by block, the same numbers as in one call).
    """
    rng = stream(cfg.seed, S_TEXT)
    countries, v_cc = np.unique(np.array(v.country, dtype=object).astype(str), return_inverse=True)
    blocks = []
    for start in range(0, max(lst.n, 1), block):
        rows = slice(start, min(start + block, lst.n))
        u = rng.random((rows.stop - rows.start, 12))
        blocks.append(_texts_block(cfg, v, lst, rows, u, qty, name_i, dose, countries, v_cc))
    names = ("title", "category", "ships_from", "ships_to", "usd_price")
    # one column at a time, each block's part released as it is copied
    return ListingTexts(**{k: pa.concat_arrays([b.pop(k) for b in blocks]) for k in names})


def _texts_block(
    cfg: SimConfig,
    v: Vendors,
    lst: Listings,
    rows: slice,
    u: np.ndarray,
    qty,
    name_i,
    dose,
    countries: np.ndarray,
    v_cc: np.ndarray,
) -> dict[str, pa.Array]:
    """The texts of the listings `rows`, with their uniform draws `u`."""
    uid, kind, market = lst.uid[rows], lst.kind[rows], lst.market[rows]
    qty, name_i, dose = qty[rows], name_i[rows], dose[rows]
    n = len(uid)
    cc = v_cc[uid]
    eu, region = v.eu[uid], v.region_only[uid]
    # ships from: the region option drawn for each group, or the country spelling
    group = np.where(eu, 0, np.where(np.isin(countries, EUROPE_NON_EU)[cc], 1, 2))
    option = np.zeros(n, dtype=np.int64)
    for g, name in enumerate(("eu", "europe", "other")):
        sel = group == g
        option[sel] = pick_u_many(u[sel, 0], _REGION_OPTIONS[name][1])
    n_var = np.array([len(COUNTRY_VARIANTS[c]) for c in countries])[cc]
    ships_from_sig = [
        cc,
        eu,
        region,
        option,
        u[:, 0] < FIXED["preferred_country_spelling_share"],
        v.pref_variant[uid] % 100,
        np.minimum((u[:, 1] * n_var).astype(np.int64), n_var - 1),
        u[:, 2] < 0.01,
    ]
    ships_from = C.by_signature(ships_from_sig, lambda r: _ships_from(v, int(uid[r]), u[r]))
    sf_code = pc.dictionary_encode(ships_from).indices.to_numpy()  # one code per text
    ships_to_sig = [
        cc,
        eu,
        np.searchsorted([0.35, 0.40, 0.52, 0.60, 0.72, 0.87, 0.92, 0.95], u[:, 3], side="right"),
        u[:, 4] < 0.5,
        sf_code,
    ]
    ships_to = C.by_signature(
        ships_to_sig, lambda r: _ships_to(v, int(uid[r]), ships_from[r].as_py(), u[r])
    )
    markets = cfg.markets
    category = C.by_signature(
        [market, kind], lambda r: VOCABS[markets[int(market[r])].style["vocab"]][KINDS[kind[r]]]
    )
    # titles
    style = np.array([m.price_style for m in markets])[market]
    decimal_comma = (style == "eur") & (u[:, 9] < 0.3)
    fullwidth = u[:, 5] < 0.01
    names = C.by_signature(
        [kind, name_i, cc, fullwidth],
        lambda r: _name(KINDS[kind[r]], int(name_i[r]), countries[cc[r]], bool(fullwidth[r])),
    )
    drug = np.array([CATALOG[k]["unit"] is not None for k in KINDS])[kind]
    quantities = C.by_signature(
        [kind, qty, dose, decimal_comma, drug, *_quantity_signature(u[:, 8])],
        lambda r: (
            _quantity_text(
                KINDS[kind[r]], float(qty[r]), f"{dose[r]:g}", u[r, 8], bool(decimal_comma[r])
            )
            if drug[r]
            else ""
        ),
    )
    shown_cc = C.take(C.strings([c if c != "GB" else "UK" for c in countries.tolist()]), cc)
    extras = pc.if_else(
        pa.array(drug),
        C.take(C.strings(DRUG_EXTRAS), _nth_index(u[:, 6], len(DRUG_EXTRAS))),
        C.take(C.strings(NONDRUG_EXTRAS), _nth_index(u[:, 6], len(NONDRUG_EXTRAS))),
    )
    fields = {"n": names, "q": quantities, "x": extras, "cc": shown_cc}
    # drug templates first, then the non-drug ones, in one list of templates
    t_idx = np.where(
        drug,
        _nth_index(u[:, 7], len(DRUG_TEMPLATES)),
        len(DRUG_TEMPLATES) + _nth_index(u[:, 7], len(NONDRUG_TEMPLATES)),
    )
    plain = _fill_templates(DRUG_TEMPLATES + NONDRUG_TEMPLATES, t_idx, fields)
    escape = np.array([m.style["escape"] for m in markets])[market]
    return {
        "title": _dressed_titles(plain, u, escape, lst.hostile[rows]),
        "category": category,
        "ships_from": ships_from,
        "ships_to": ships_to,
        "usd_price": C.usd_text(lst.price_usd[rows], lst.alt_price[rows]),
    }
