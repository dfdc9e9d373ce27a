"""Reader-facing names of drug categories (dnmarkets.report.labels)."""

from __future__ import annotations

import csv
from importlib import resources

from dnmarkets.report.labels import CATEGORY_LABELS, category_label


def test_every_category_of_the_rules_has_a_name():
    path = resources.files("dnmarkets") / "data" / "category_rules.csv"
    rows = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    categories = {row["category"] for row in csv.DictReader(rows)}
    assert categories <= set(CATEGORY_LABELS), categories - set(CATEGORY_LABELS)


def test_an_unlisted_code_is_shown_as_it_is():
    assert category_label("nps") == "NPS"
    assert category_label("khat_only") == "khat_only"
