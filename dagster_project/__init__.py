"""Orchestration: the Dagster definitions, jobs, sensor, schedule and the `funnel` CLI."""
