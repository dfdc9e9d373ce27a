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
