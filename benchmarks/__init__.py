"""Benchmarks run by `make bench`; results in artifacts/bench.json."""
