"""Turn raw redis-benchmark results into numbers with their conditions."""
