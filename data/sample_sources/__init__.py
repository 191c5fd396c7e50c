"""Builders of the sample's sources, one module per kind of landing data."""
