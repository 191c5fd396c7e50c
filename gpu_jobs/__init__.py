"""Operators of the gold stage: torch models as pure functions of documents and a recipe config."""
