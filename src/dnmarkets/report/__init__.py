"""The report: number formatting, Markdown text, and the offline renderer of the Quarto project."""
