"""Benchmarks (`make bench`): each compares funnel with a named peer or limit in the same run."""
