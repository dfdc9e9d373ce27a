"""Names readers see for the pipeline's codes: drug categories (the slugs of
`dnmarkets/data/category_rules.csv`) in tables and figures. Market names come
from config.yaml (each market's `name`), closure types from
`dnmarkets.figures.style.CLOSURE_LABELS`."""

from __future__ import annotations

CATEGORY_LABELS = {
    "cannabis": "Cannabis",
    "cocaine": "Cocaine",
    "ecstasy": "Ecstasy (MDMA)",
    "nps": "NPS",
    "opioids": "Opioids",
    "other_drug": "Other drugs",
    "prescription": "Prescription drugs",
    "psychedelics": "Psychedelics",
    "stimulants": "Stimulants",
    "non_drug": "Non-drug",
}


def category_label(slug: str) -> str:
    """A drug category's name; an unlisted code is shown as it is, never dropped."""
    return CATEGORY_LABELS.get(slug, slug)
