"""Benchmarks (not part of the test suite): corpus generator, build, query, embedding and CLI timings."""
