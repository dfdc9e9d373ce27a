"""Cleaning raw snapshots into typed tables: text, prices, quantities, categories,
countries, schemas, vendor identities, pseudonyms."""
