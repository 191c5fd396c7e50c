"""How the funnel's work is split: one dynamic partition per ingestion batch."""

import dagster as dg

BATCH_PARTITIONS_NAME = "batch"

batches = dg.DynamicPartitionsDefinition(name=BATCH_PARTITIONS_NAME)
