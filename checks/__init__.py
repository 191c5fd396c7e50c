"""Asset checks that gate each stage: conservation of rows (and, per table, data contracts)."""
