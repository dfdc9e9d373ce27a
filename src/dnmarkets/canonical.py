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
VENDOR_COLUMNS = ["vendor", "pgp_fingerprint", "rating", "registered", "total_sales", "scraped_at"]
