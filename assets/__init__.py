"""Software-defined assets, one module per funnel stage: read pinned input, call operators."""
