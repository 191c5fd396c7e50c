"""Operators of the silver stage: pure functions of a Spark DataFrame and a recipe config."""
