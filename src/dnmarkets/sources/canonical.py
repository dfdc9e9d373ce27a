"""The canonical raw snapshot columns (docs/data_model.md, section 1).

The contract between every source of raw data (the simulator, the tabular
importer) and cleaning; values are text as shown on the page. Kept free of
imports so that depending on it costs nothing.
"""

LISTING_COLUMNS = [
    "listing_id",
    "title",
    "vendor",
    "price",
    "category",
    "ships_from",
    "ships_to",
    "feedback",
    "scraped_at",
]
# Optional listing columns: structured fields some sources have besides the title.
# quantity_g: the stated quantity in grams (Dream's `grams` column); where present
# and a positive number it is used instead of the quantity parsed from the title.
# sold_count, sold_since: a per-listing sales counter and the day it started
# (AlphaBay's `580 sold since Dec 9, 2015`), for a sales estimate without feedback.
OPTIONAL_LISTING_COLUMNS = ["quantity_g", "sold_count", "sold_since"]
VENDOR_COLUMNS = ["vendor", "pgp_fingerprint", "rating", "registered", "total_sales", "scraped_at"]
