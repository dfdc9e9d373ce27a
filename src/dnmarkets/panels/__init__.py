"""Panels built from the clean listing sightings: market x day and vendor x market."""
