"""Statistical models: landscape, supply, resilience (interrupted time series),
migration, survival, crawl checks, validation."""
