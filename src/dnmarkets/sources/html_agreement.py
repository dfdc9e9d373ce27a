"""Agreement of the HTML importer (`agora_html`) with the ADA-2019 CSV of the same crawl day.

Matching, step by step
----------------------
1. Normalise text fields on both sides: decode HTML entities, casefold, collapse whitespace.
   Prices become integer satoshi (BTC x 1e8, rounded) after dropping a "BTC" suffix, so two
   prices agree when equal within 1e-8 BTC; an unparseable price is compared as text.
2. Pair HTML rows with CSV rows one to one, in tiers; each tier pairs rows that share its
   key, first-come first-served within a key, and only rows left over go on to the next:
   (title, vendor, price, ships-from, cat_hash), (title, vendor, price, ships-from),
   (title, vendor, price, cat_hash), (title, vendor, price), (title, vendor, cat_hash),
   (title, vendor). Every pair therefore agrees on title and
   vendor; a row with no title+vendor partner is "only in HTML" / "only in CSV".
   HTML rows from wget copies (member `cat/<hash>.N`, a second save of a page already in the
   crawl) are offered last, so a listing seen twice pairs with its canonical page first.
3. A pair is an exact match when price and ships-from also agree.
4. Every difference is put in one named category (`disagreements`), and differences that
   the normalisation removes are counted too (kind "normalised away").

What the 2014-04-06 crawl shows (rule html_agreement writes the figures to
results/models/agora2014/html_agreement.json)
-----------------------------------------------------------------------------------
HTML import 10,961 rows (421 pages: 401 with listing rows, 14 parent-category pages with
only a tile grid, 6 "There are no products here yet." pages), CSV 9,701 rows. Exact
match on all four fields: 9,031 rows, 82.4 % of the HTML rows, 93.1 % of the rows on the
pages the CSV covers. Title and vendor agree on every pair (by construction), price on
every pair too (share 1.0); ships-from on 93.1 % of pairs.

- Rows only in HTML: 1,260, all on the 42 wget copies `cat/<hash>.1` (30 rows each). The
  ADA parser skips members whose name ends in `.<digits>`; these are earlier fetches of the
  category's first page, with a different listing order (2 to 29 of their 30 listings also
  appear on `cat/<hash>/1`). 1,257 of these listings appear elsewhere in the crawl (1,256
  in the same category), so skipping the copies lost only 3 distinct listings (9,520
  distinct listing ids in the HTML, 9,517 on the pages the CSV covers). Rows only in
  CSV: 0; title+vendor pairs: 9,701, i.e. every CSV row.
- ships-from, 670 pairs, every one a side effect of how the ADA parser read the cell:
  * 423: "To"/"From" deleted inside the value: the page says `Torland` (Tor-land), the
    CSV `rland` (its parser removes the substrings "From", "To", ":" and spaces).
  * 219: spaces deleted (`Hong Kong` -> `HongKong` 128, `South Africa` 31,
    `Czech Republic` 28, `The United Snakes of Captivity` 17, `New Zealand` 11,
    `China or EU` 3, `my PM` 1).
  * 28: the page shows only a "To:" line; the CSV put that ships-to value into `from`.
- Not disagreements: 9,701 prices printed `x BTC` on the page and `x` in the CSV (equal as
  numbers); 416 titles differ only by runs of spaces that the CSV kept and a browser (and
  this importer) collapses; 0 differ by entity encoding (both sides decode entities).
- Duplicates: the CSV holds 138 exact duplicate rows, and the same listing id appears
  twice on 184 HTML rows of the CSV-covered pages: the listing was shown on two pages of a
  category as the pagination shifted while the crawler walked it. Both sides carry them,
  so the one-to-one pairing matches them.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

FIELDS = {"title": "name", "vendor": "vendor", "price": "price", "ships_from": "from"}
WGET_COPY = re.compile(r"\.\d+$")


def norm_text(values: pd.Series) -> pd.Series:
    """Decode entities, casefold, collapse whitespace."""
    return (
        values.fillna("").astype(str).map(lambda x: " ".join(html.unescape(x).casefold().split()))
    )


def price_key(values: pd.Series) -> pd.Series:
    """Integer satoshi as text ("s:12345"), or "t:<normalised text>" if unparseable."""
    text = norm_text(values).str.replace(r"\s*btc$", "", regex=True).str.replace(" ", "")
    num = pd.to_numeric(text, errors="coerce")
    sat = (num * 1e8).round()
    return pd.Series(
        np.where(num.notna(), "s:" + sat.astype("Int64").astype(str), "t:" + text),
        index=values.index,
    )


def _normalised(df: pd.DataFrame, cols: dict[str, str]) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    out["t"] = norm_text(df[cols["title"]])
    out["v"] = norm_text(df[cols["vendor"]])
    out["p"] = price_key(df[cols["price"]])
    out["f"] = norm_text(df[cols["ships_from"]])
    out["c"] = df["cat_hash"].astype(str) if "cat_hash" in df else ""
    return out


def _pair(h: pd.DataFrame, c: pd.DataFrame) -> pd.DataFrame:
    """One-to-one pairs (hid, cid, tier) on the tiers of the module docstring."""
    tiers = ["tvpfc", "tvpf", "tvpc", "tvp", "tvc", "tv"]  # columns t, v, p, f, c
    pairs = []
    for tier, letters in enumerate(tiers, 1):
        keys = list(letters)
        hr = h.assign(_r=h.groupby(keys, sort=False).cumcount())
        cr = c.assign(_r=c.groupby(keys, sort=False).cumcount())
        got = hr[keys + ["_r", "hid"]].merge(cr[keys + ["_r", "cid"]], on=keys + ["_r"])
        pairs.append(got[["hid", "cid"]].assign(tier=tier))
        h, c = h[~h.hid.isin(got.hid)], c[~c.cid.isin(got.cid)]
    return pd.concat(pairs, ignore_index=True)


def _multiset_share(a: pd.Series, b: pd.Series) -> float:
    """Share of `a` that has a partner in `b` (values matched one to one)."""
    ca, cb = a.value_counts(), b.value_counts()
    common = pd.concat([ca, cb], axis=1, join="inner").min(axis=1).sum()
    return float(common) / len(a) if len(a) else float("nan")


def _squash(text: str) -> str:
    return "".join(html.unescape(text).casefold().split())


def _ada_cleaned(text: str) -> str:
    # the ADA-2019 parser's treatment of the shipping cell: delete "From", "To", ":", spaces
    return _squash(re.sub(r"From|To|:", "", text))


def ships_from_reason(page_from: str, page_to: str, csv_from: str) -> str:
    """Name the way a ships-from value on the page became a different value in the CSV."""
    hn, cn = _squash(page_from), _squash(csv_from)
    if not hn and cn and cn in (_squash(page_to), _ada_cleaned(page_to)):
        return "ships-from: page has only 'To:', CSV took the ships-to value"
    if hn == cn:
        return "ships-from: spaces deleted in CSV (Hong Kong -> HongKong)"
    if _ada_cleaned(page_from) == cn:
        return "ships-from: 'To'/'From' deleted inside the value in CSV (Torland -> rland)"
    if cn and (hn.startswith(cn) or hn.endswith(cn)):
        return "ships-from: truncated in CSV"
    if hn and (cn.startswith(hn) or cn.endswith(hn)):
        return "ships-from: truncated on page"
    return "ships-from: unexplained difference"


def _title_reason(page: str, csv: str) -> str | None:
    if page == csv:
        return None
    if page.split() == csv.split():
        return "title: whitespace runs (CSV keeps them, the page renders them collapsed)"
    if html.unescape(page).split() == html.unescape(csv).split():
        return "title: entity encoding"
    return "title: letter case only"


def _reason_rows(kind: str, reasons: list) -> list[tuple[str, str, int]]:
    """One (kind, reason, count) row per named reason (None is no reason), largest first."""
    counts = pd.Series([r for r in reasons if r is not None], dtype=object).value_counts()
    return [(kind, r, int(n)) for r, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))]


def _unpaired_rows(only_html_pages: pd.Series, only_csv: int) -> list[tuple[str, str, int]]:
    """Rows only in HTML (wget copies, or unexplained) and rows only in CSV."""
    return _reason_rows(
        "only in HTML",
        [
            "page is a wget copy cat/<hash>.N, skipped by the CSV parser"
            if WGET_COPY.search(p)
            else "unexplained: no title+vendor partner in CSV, not a wget copy"
            for p in only_html_pages
        ],
    ) + _reason_rows("only in CSV", ["CSV rows with no title+vendor partner in HTML"] * only_csv)


def _field_rows(hraw, craw, hp, cp, price_ok, from_ok) -> list[tuple[str, str, int]]:
    """Paired rows (raw and normalised) whose ships-from or price differ, or differ only raw."""
    rows = _reason_rows(
        "field differs",
        [
            None if ok else ships_from_reason(a, b, x)
            for a, b, x, ok in zip(
                hraw.ships_from, hraw.ships_to, craw["from"], from_ok, strict=True
            )
        ],
    )
    unparseable = hp.p.str.startswith("t:").to_numpy() | cp.p.str.startswith("t:").to_numpy()
    rows += _reason_rows(
        "field differs",
        [
            None if ok else "price: not a number on one side" if bad else "price: different amount"
            for ok, bad in zip(price_ok, unparseable, strict=True)
        ],
    )
    printed = hraw.price.astype(str).str.strip().to_numpy() != craw.price.astype(str).to_numpy()
    rows += _reason_rows(
        "normalised away",
        ["price: printed differently, equal as numbers ('x BTC' vs 'x')"]
        * int((price_ok & printed).sum()),
    )
    rows += _reason_rows(
        "normalised away", [_title_reason(a, b) for a, b in zip(hraw.title, craw.name, strict=True)]
    )
    return rows


def _duplicate_rows(html_rows, csv_rows, page_has_pair) -> list[tuple[str, str, int]]:
    """Duplicate CSV rows, and HTML rows repeating a listing id on the pages the CSV covers."""
    dup_cols = [x for x in ["name", "price", "from", "to", "vendor", "cat_hash"] if x in csv_rows]
    rows = _reason_rows(
        "duplicates",
        ["CSV rows duplicating another CSV row"] * int(csv_rows.duplicated(dup_cols).sum()),
    )
    if "listing_id" in html_rows:
        repeated = html_rows.loc[page_has_pair, "listing_id"].duplicated().sum()
        rows += _reason_rows(
            "duplicates",
            ["HTML rows repeating a listing id (on pages the CSV covers)"] * int(repeated),
        )
    return rows


def _share(n, d) -> float:
    """n / d, NaN when d is 0."""
    return float(n) / d if d else float("nan")


def agreement(html_rows: pd.DataFrame, csv_rows: pd.DataFrame) -> dict:
    """Match the HTML import to the CSV rows of the same day (see module docstring)."""
    html_rows = html_rows.reset_index(drop=True)
    csv_rows = csv_rows.reset_index(drop=True)
    pages = html_rows["page"].astype(str) if "page" in html_rows else html_rows.index.astype(str)
    pages = pd.Series(pages, index=html_rows.index)
    h = _normalised(html_rows, {k: k for k in FIELDS}).assign(hid=html_rows.index)
    # wget copies last (stable sort keeps page order otherwise)
    h = h.assign(_copy=pages.str.contains(WGET_COPY)).sort_values("_copy", kind="stable")
    c = _normalised(csv_rows, FIELDS).assign(cid=csv_rows.index)
    pairs = _pair(h.drop(columns="_copy"), c)

    hp, cp = h.set_index("hid").loc[pairs.hid], c.set_index("cid").loc[pairs.cid]
    price_ok = hp.p.to_numpy() == cp.p.to_numpy()
    from_ok = hp.f.to_numpy() == cp.f.to_numpy()
    exact = price_ok & from_ok
    n_html, n_csv, n_pairs = len(html_rows), len(csv_rows), len(pairs)

    only_html = html_rows.drop(index=pairs.hid)
    page_has_pair = pages.isin(set(pages.loc[pairs.hid]))
    n_on_csv_pages = int(page_has_pair.sum())

    rows = (  # (kind, category, count)
        _unpaired_rows(pages.loc[only_html.index], n_csv - n_pairs)
        + _field_rows(html_rows.loc[pairs.hid], csv_rows.loc[pairs.cid], hp, cp, price_ok, from_ok)
        + _duplicate_rows(html_rows, csv_rows, page_has_pair)
    )
    return {
        "n_html": n_html,
        "n_csv": n_csv,
        "n_pairs_title_vendor": n_pairs,
        "n_exact": int(exact.sum()),
        "exact_share": _share(exact.sum(), n_html),
        "exact_share_on_csv_pages": _share(exact.sum(), n_on_csv_pages),
        "field_share": {
            "title": _multiset_share(h.t, c.t),
            "vendor": _multiset_share(h.v, c.v),
            "price": _share(price_ok.sum(), n_pairs),
            "ships_from": _share(from_ok.sum(), n_pairs),
        },
        "only_html": int(len(only_html)),
        "only_csv": int(n_csv - n_pairs),
        "html_pages_with_rows": int(pages.nunique()),
        "html_pages_not_in_csv": int(pages[~page_has_pair].nunique()),
        "html_rows_on_csv_pages": n_on_csv_pages,
        "disagreements": [{"kind": k, "category": cat, "count": n} for k, cat, n in rows],
        "method": (
            "text fields: entities decoded, casefolded, whitespace collapsed; price: BTC "
            "equal within 1e-8 (integer satoshi); one-to-one pairing on title+vendor "
            "(tiers preferring equal price, ships-from and cat_hash); exact = title, "
            "vendor, price and ships-from all equal"
        ),
    }


def read_listing_csv(path) -> pd.DataFrame:
    """The ADA-2019 catProducts CSV as text, empty cells as ''."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)
