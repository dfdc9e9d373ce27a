"""Figures for the notebooks and the report (matplotlib + seaborn)."""
