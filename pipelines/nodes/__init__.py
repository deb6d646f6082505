"""Bitcoin's reachable nodes: snapshots, offline enrichment and dispersion."""
