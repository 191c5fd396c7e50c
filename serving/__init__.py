"""Serving layer: published releases into training, and the data–model interaction levers."""

from serving.dataset import ReleaseDataLoader, ReleaseDataset

__all__ = ["ReleaseDataLoader", "ReleaseDataset"]
