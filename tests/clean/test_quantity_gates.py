"""The quantity parser's shortcuts change no answer: the product patterns run only
where a digit stands next to x or *, and ASCII titles skip Unicode normalisation
(dnmarkets.clean.quantities). Checked against the parser without the shortcuts on
generated titles built from the parser's own tokens."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from dnmarkets.clean import quantities

TOKENS = [
    "10", "3.5", "3,5", ".5", "1,000", "2.500", "0", "1/4", "half", "quarter", "a", "x", "*",
    "X", "×", "g", "mg", "ug", "μg", "µg", "kg", "oz", "lb", "ml", "l", "grams", "tabs",
    "pills", "blotters", "caps", "bars", "xanax", "mdma", "cocaine", " ", "  ", "-", "(", ")",
    "+", "/", "@", "ｇ", "１０",
]  # fmt: skip

titles = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10).map("".join)


def _ungated(title: str, monkeypatch_re) -> quantities.Quantity | None:
    quantities._parse.cache_clear()
    saved = quantities._PRODUCT_HINT_RE
    quantities._PRODUCT_HINT_RE = monkeypatch_re
    try:
        return quantities._parse(title)
    finally:
        quantities._PRODUCT_HINT_RE = saved
        quantities._parse.cache_clear()


@settings(max_examples=600, deadline=None)
@given(titles)
def test_product_gate_changes_no_answer(title):
    always = re.compile("")
    expected = _ungated(title, always)
    assert quantities.parse_quantity(title) == expected


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_normalisation_shortcut(text):
    assert quantities._normalise(text) == unicodedata.normalize("NFKC", text).casefold()


@given(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
)
def test_close_is_numpys_isclose(a, b):
    import numpy as np

    assert quantities._close(a, b) == bool(np.isclose(a, b, rtol=0.02))


def test_close_at_the_tolerance():
    import numpy as np

    for a, b in [(1.02, 1.0), (1.0200001, 1.0), (0.98, 1.0), (28.0, 28.349523125), (0.0, 1e-8)]:
        assert quantities._close(a, b) == bool(np.isclose(a, b, rtol=0.02))


LONE_TOKENS = [
    *TOKENS, "Cocaine", "MDMA", "gr", "gram", "kilo", "kilos", "lbs", "ounce", "litre", "mg",
    "mcg", "_", ".", ",", "%", "!", "-", "A", "G", "3,55", "007", "1000000000000", "\t", "é",
    "halfway", "x", "*", "tabs", "10x", "1oz", "28g", "(28g)", "pound", "an", "tablets",
    "xtabs", "Xanax", "2mg", "bar", "pcs", "1,000", "1.5", "0.5", "50", "500mg", "10 x",
    "mgx", " x ", "x5", "*3", "1/2", "0/4", "ozs", "10mg", " / ",
]  # fmt: skip

lone_titles = st.lists(st.sampled_from(LONE_TOKENS), min_size=1, max_size=8).map("".join)


def _check_lone(titles_list: list[str]) -> int:
    matched, quantity, unit = quantities.arrow_quantities(titles_list)
    for title, m, q, u in zip(titles_list, matched, quantity, unit, strict=True):
        if m:
            quantities._parse.cache_clear()
            expected = quantities.parse_quantity(title)
            got = None if u is None else quantities.Quantity(float(q), u)
            assert got == expected, title
    return int(matched.sum())


@settings(max_examples=1500, deadline=None)
@given(st.lists(lone_titles, min_size=1, max_size=20))
def test_arrow_quantities_answer_as_the_parser(titles_list):
    """Every title the Arrow shortcut reads gets the parser's answer."""
    _check_lone(titles_list)


def test_arrow_quantities_examples():
    read = [
        "Cocaine 1g", "MDMA 3,5 gr - pure!", "Weed 1 oz", "1 kilo", "Hash 0g", "5l GBL",
        "100mg MDMA", "2 x 1g", "1g 2g", "3.555g", "1/2 oz", "half 1g", "Ketamine 10 grams",
        "é 1g", "LSD 100ug", "1oz (28g)", "Xanax 2mg bars", "100 pills", "Top 10 weed",
        "UK/EU 5g", "10x pills", "10 x 100mg MDMA", "Soma 350mg X 90", "1/2 oz Kush",
        "Norco 10/325mg", "5 Percocet 5/325", "24/7 1g",  # a number after "/", no fraction
        "1/2 oz 14g", "3.5g (1/8 oz)", "1/4 oz - 7 grams - 10 pills", "1/2 oz half",
        "10 x 100mg MDMA (1g)", "Soma 350mg X 90 (2 strips)", "2 x 3.5g = 7g", "5 x 2mg 10 tabs",
        "half oz", "Quarter LB (114g) of Hawaiian", "[14g - Half an Ounce]", "half pound 10 pills",
        "100x 25D-NBOMe blotter 1000ug", "10 x 4-HO-MET 20 Geltabs", "box 5g", "Soma 350mgx90",
    ]  # fmt: skip
    # a number after a letter or ".", a tab, a fourth mention, two word fractions (also
    # once a product or fraction is blanked), two fractions, a fraction or word fraction
    # beside a product, "*" between numbers, a count after "M unit x" before a number,
    # two products: the parser's
    parsed = [
        "v.3g", "x3g", "Speed 1g\t", "1g 2g 3g 4g", "half oz quarter oz",
        "half 1/2g oz", "half oz 1/2 oz", "half oz 2 x 7g", "5 * 3 pills", "xanax 2mg x1400 24",
        "quarter 10 x 1g lb", "half 1g x 3 oz", "1/2 oz 1/4 oz", "1/2 oz 2 x 7g", "3g x 2 6g",
        "2 x 1g 3 x 1g",
    ]  # fmt: skip
    matched, _, _ = quantities.arrow_quantities(read + parsed)
    assert matched.tolist() == [True] * len(read) + [False] * len(parsed)
    assert _check_lone(read) == len(read)


def test_live_tokens_are_the_count_words_and_units():
    """The words that make a number live are exactly those of the count and mass
    patterns (ASCII): a word missing here would let a mention go unseen."""
    count_words = {t for t in quantities._LIVE_TOKENS if re.fullmatch(quantities._COUNT_WORDS, t)}
    units = {t for t in quantities._MASS_UNITS if t.isascii()}
    assert set(quantities._LIVE_TOKENS) == count_words | units
    # every word of the count pattern: its alternatives with and without the "s?"
    for word in quantities._COUNT_WORDS.split("|"):
        for token in (word[:-2], word[:-1]) if word.endswith("s?") else (word,):
            assert token in count_words


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(lone_titles, min_size=1, max_size=12), min_size=1, max_size=4))
def test_title_quantities_answer_as_the_parser(batches):
    """Each batch (a partition's titles) gets the parser's answers, as a list, with
    its Arrow array or as the array alone, whatever the batches before it held."""
    import numpy as np
    import pyarrow as pa

    for i, titles in enumerate(batches):
        array = pa.array(titles, type=pa.large_string()) if i % 3 else None
        quantity, unit = quantities.title_quantities(None if i % 3 == 2 else titles, array)
        for title, q, u in zip(titles, quantity, unit, strict=True):
            expected = quantities.parse_quantity(title)
            if expected is None:
                assert u is None and np.isnan(q), title
            else:
                assert quantities.Quantity(float(q), u) == expected, title


def test_non_ascii_titles_read_as_ascii_stand_ins():
    titles = ["Kokain 1g – rein", "Ｋｅｔａｍｉｎ １０ｇ", "MDMA 5g ★★★", "LSD 100µg", "Café 2g"]
    matched, _, _ = quantities.arrow_quantities(titles)
    assert matched.tolist() == [True, True, True, False, True]  # "μ": the parser
    assert _check_lone(titles) == 4
    # a digit or space outside ASCII (after NFKC) has no stand-in: the parser reads it
    assert not quantities.arrow_quantities(["Speed ٣g", "Speed 1\x85g"])[0].any()


@settings(max_examples=1000, deadline=None)
@given(st.lists(lone_titles.map(str.lower), min_size=1, max_size=20))
def test_mentions_one_at_a_time_as_the_exact_pattern(texts):
    """Mentions read one at a time give the rows and groups of the exact pattern of k
    mentions, in titles with k live numbers (as arrow_quantities calls it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = pa.array(
        [
            *texts,
            "1g 2g 5 star",
            "5 g tabs 2g",
            "top 10 weed 1g 2 pills",
            "1 gx 2g 3 g",
            "1g.5g",
            "1g 2g 3 tabs",
            "(1g) 2 x tabs; 3.5 oz",
            "5 x tabs 2g",
        ]
    )
    live = pc.count_substring_regex(texts, quantities._LIVE_RE).to_numpy(zero_copy_only=False)
    for k in quantities._MENTIONS_RE:
        some = texts.filter(pa.array(live == k))
        rows, numbers, words = quantities._extract_mentions(some, k)
        exact = pc.extract_regex(some, quantities._MENTIONS_RE[k])
        assert rows.tolist() == [i for i, v in enumerate(exact.is_valid()) if v.as_py()]
        for j, row in enumerate(rows.tolist()):
            groups = exact[row].as_py()
            assert [n[j].as_py() for n in numbers] == [groups[f"n{i}"] for i in range(k)]
            assert [w[j].as_py() for w in words] == [groups[f"w{i}"] for i in range(k)]


# numbers as the mention pattern extracts them ("[0-9.,]*[0-9]"), and the words
numbers = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "2",
            "10",
            "49",
            "50",
            "3.5",
            "3,5",
            ".5",
            ",05",
            "1,000",
            "2.500",
            "1.2.3",
            "0.0",
            "007",
            "0.049",
            "28",
            "28.35",
            "1000000000000",
            "10000000000000",
            "1,000,000",
        ]
    ),  # fmt: skip
    st.from_regex(r"\A[0-9.,]{0,6}[0-9]\Z"),
)
mention_words = st.sampled_from(
    [*quantities._LIVE_TOKENS, "x", "x tabs", "x  pills", "x bar", "x units"]
)


def _answers_as_quantities(answers) -> list[quantities.Quantity | None]:
    quantity, unit = answers
    units = [*quantities._OUT_UNITS, None]
    return [
        None if units[u] is None else quantities.Quantity(float(q), units[u])
        for q, u in zip(quantity, unit, strict=True)
    ]


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(numbers, mention_words), min_size=1, max_size=3), st.booleans()
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mention_answers_are_the_parsers_of_the_canonical_title(rows):
    """The numpy rules give _parse's answer of each canonical title "<number> <word>;
    ...[; tabs]" (rows of one number of mentions at a time, as arrow_quantities calls it)."""
    import numpy as np
    import pyarrow as pa

    for k in {len(mentions) for mentions, _ in rows}:
        some = [(mentions, dose) for mentions, dose in rows if len(mentions) == k]
        numbers = [pa.array([m[i][0] for m, _ in some]) for i in range(k)]
        words = [pa.array([m[i][1] for m, _ in some]) for i in range(k)]
        dose = np.array([d for _, d in some])
        readings = quantities._readings(numbers, words, len(some))
        got = _answers_as_quantities(quantities._mention_answers(readings, dose.__getitem__))
        for (mentions, d), answer in zip(some, got, strict=True):
            canonical = "; ".join(f"{n} {w}" for n, w in mentions) + ("; tabs" if d else "")
            assert answer == quantities._parse(canonical), canonical


@settings(max_examples=800, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["0", "1", "10", "1000000000000", "10000000000000"]),
                      st.from_regex(r"\A[0-9]{1,4}\Z")),
            st.one_of(numbers.filter(quantities._FULL_NUM_RE.fullmatch),
                      st.from_regex(r"\A[.,][0-9]{1,3}\Z")),
            st.sampled_from([u for u in quantities._MASS_UNITS if u.isascii()]),
            st.booleans(),
            st.lists(st.tuples(numbers, mention_words), max_size=2),
        ),
        min_size=1,
        max_size=8,
    )
)  # fmt: skip
def test_product_answers_are_the_parsers_of_the_canonical_title(rows):
    """ "n x m unit" or "m unit x n" beside mentions, in numpy: _parse's answer of the
    canonical title "<product>; <number> <word>; ..."."""
    import pyarrow as pa

    for k in {len(row[4]) for row in rows}:
        some = [row for row in rows if len(row[4]) == k]
        n, m, u = (pa.array([row[i] for row in some]) for i in range(3))
        numbers = [pa.array([row[4][i][0] for row in some]) for i in range(k)]
        words = [pa.array([row[4][i][1] for row in some]) for i in range(k)]
        readings = quantities._readings(numbers, words, len(some))
        product = quantities._product_readings(n, m, u)
        got = _answers_as_quantities(quantities._product_answers(product, readings))
        for (count, mass, unit, after, mentions), answer in zip(some, got, strict=True):
            first = f"{mass} {unit} x {count}" if after else f"{count} x {mass} {unit}"
            canonical = "; ".join([first, *(f"{n} {w}" for n, w in mentions)])
            assert answer == quantities._parse(canonical), canonical


def test_mention_answers_of_agora_like_titles():
    """Rules of each kind, also with no row."""
    import numpy as np
    import pyarrow as pa

    rows = [
        [("1", "g"), ("28", "g")], [("1", "oz"), ("28", "g")], [("100", "pills"), ("2", "mg")],
        [("100", "pills"), ("2", "g")], [("10", "x"), ("20", "tabs")],
        [("1.5", "tabs"), ("100", "mg")], [("100", "mg"), ("100", "ug")],
        [("30", "mg"), ("60", "mg")], [("1,000", "x tabs"), ("0", "x")],
    ]  # fmt: skip
    for dose in (False, True):
        numbers = [pa.array([r[i][0] for r in rows]) for i in range(2)]
        words = [pa.array([r[i][1] for r in rows]) for i in range(2)]
        readings = quantities._readings(numbers, words, len(rows))
        got = _answers_as_quantities(
            quantities._mention_answers(readings, np.full(len(rows), dose).__getitem__)
        )
        expected = [
            quantities._parse("; ".join(f"{n} {w}" for n, w in r) + ("; tabs" if dose else ""))
            for r in rows
        ]
        assert got == expected
        assert sum(a is not None for a in got) >= 2
    empty = quantities._readings(
        [pa.array([], pa.string())] * 2, [pa.array([], pa.string())] * 2, 0
    )
    answers = quantities._mention_answers(empty, np.zeros(0, bool).__getitem__)
    assert [len(a) for a in answers] == [0, 0]


short_integers = st.from_regex(r"\A[0-9]{1,3}\Z")


@settings(max_examples=800, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["0", "1", "3", "10", "007"]), short_integers),
            st.one_of(st.sampled_from(["0", "1", "2", "4", "8"]), short_integers),
            st.sampled_from(["oz", "ozs", "ounce", "ounces", "lb", "lbs", "kg", "kilo", "kilos",
                             "g", "gram", "grams"]),
            st.lists(st.tuples(numbers, mention_words), max_size=2),
        ),
        min_size=1,
        max_size=6,
    )
)  # fmt: skip
def test_fraction_beside_mentions_is_the_parsers_canonical_title(rows):
    """A fraction read as the first mass before the mentions of the rest of the title:
    _parse's answer of "a/b unit; <number> <word>; ..."."""
    import numpy as np
    import pyarrow as pa

    for k in {len(mentions) for *_, mentions in rows}:
        some = [row for row in rows if len(row[3]) == k]
        a, b, u = (pa.array([row[i] for row in some]) for i in range(3))
        fraction = quantities._fraction_readings(
            pa.StructArray.from_arrays([a, b, u], names=["a", "b", "u"])
        )
        numbers = [pa.array([row[3][i][0] for row in some]) for i in range(k)]
        words = [pa.array([row[3][i][1] for row in some]) for i in range(k)]
        readings = quantities._readings(numbers, words, len(some))
        readings = [np.column_stack([f, r]) for f, r in zip(fraction, readings, strict=True)]
        got = _answers_as_quantities(
            quantities._mention_answers(readings, np.zeros(len(some), bool).__getitem__)
        )
        for (a, b, u, mentions), answer in zip(some, got, strict=True):
            canonical = "; ".join([f"{a}/{b} {u}", *(f"{n} {w}" for n, w in mentions)])
            assert answer == quantities._parse(canonical), canonical


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["half", "quarter"]),
            st.sampled_from(["oz", "ounce", "lb", "pound", "kilo", "kg"]),
            st.lists(st.tuples(numbers, mention_words), max_size=2),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_word_fraction_beside_mentions_is_the_parsers_canonical_title(rows):
    """A word fraction read as the first mass before the mentions of the rest of the
    title: _parse's answer of "half oz; <number> <word>; ..."."""
    import numpy as np
    import pyarrow as pa

    for k in {len(mentions) for *_, mentions in rows}:
        some = [row for row in rows if len(row[2]) == k]
        f, u = (pa.array([row[i] for row in some]) for i in range(2))
        first = quantities._word_fraction_readings(
            pa.StructArray.from_arrays([f, u], names=["f", "u"])
        )
        numbers = [pa.array([row[2][i][0] for row in some]) for i in range(k)]
        words = [pa.array([row[2][i][1] for row in some]) for i in range(k)]
        readings = quantities._readings(numbers, words, len(some))
        readings = [np.column_stack([a, r]) for a, r in zip(first, readings, strict=True)]
        dose = np.zeros(len(some), bool).__getitem__
        got = _answers_as_quantities(quantities._mention_answers(readings, dose))
        for (f, u, mentions), answer in zip(some, got, strict=True):
            canonical = "; ".join([f"{f} {u}", *(f"{n} {w}" for n, w in mentions)])
            assert answer == quantities._parse(canonical), canonical
