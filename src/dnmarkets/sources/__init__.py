"""Raw inputs: obtaining and verifying real files, importing tabular and HTML scrapes
into canonical snapshots, reference data, partitions."""
