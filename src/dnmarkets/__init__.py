"""Darknet drug-market report pipeline: importers, cleaning, panels, models, report."""

__version__ = "0.1.0"
