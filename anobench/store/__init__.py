"""Keeping runs: the run folder and its result sets (`folder`), the per-case rows (`rows`), the
chunked case arrays (`chunks`), result sets in memory or read lazily (`results`), sharded runs
(`shards`) and durable atomic writes (`atomic`).

The lowest layer of the package: it knows no method, data set, harness or evaluation, so both the
harness that writes runs and the evaluation that reads them build on it.
"""
