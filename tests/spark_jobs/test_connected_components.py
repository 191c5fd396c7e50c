import pytest
from pyspark.sql import SparkSession

from spark_jobs.connected_components import ComponentsDidNotConvergeError, connected_components
from tests.spark_cluster import spark

__all__ = ["spark"]


def _components(spark: SparkSession, edges: list[tuple[str, str]], **options: int) -> dict:
    df = spark.createDataFrame(edges, "src string, dst string")
    return {row.node: row.component for row in connected_components(df, **options).collect()}


def test_each_node_maps_to_the_smallest_node_of_its_component(spark: SparkSession) -> None:
    edges = [
        ("d", "c"), ("c", "b"), ("b", "e"),  # a chain, given in no particular order
        ("m", "k"), ("k", "n"), ("n", "m"), ("k", "m"),  # a cycle, one edge twice
        ("x", "y"),  # a pair
        ("s", "s"),  # a self-loop alone is no component
        ("q", "p"), ("r", "p"), ("t", "p"),  # a star whose centre is the smallest
    ]  # fmt: skip
    assert _components(spark, edges) == {
        "b": "b", "c": "b", "d": "b", "e": "b",
        "k": "k", "m": "k", "n": "k",
        "x": "x", "y": "x",
        "p": "p", "q": "p", "r": "p", "t": "p",
    }  # fmt: skip


@pytest.mark.slow
def test_long_chain_and_empty_graph(spark: SparkSession) -> None:
    chain = [(f"n{i:04d}", f"n{i + 1:04d}") for i in range(100)]
    components = _components(spark, chain[::-1])
    assert len(components) == 101 and set(components.values()) == {"n0000"}
    assert _components(spark, []) == {}


def test_round_limit_raises_instead_of_running_on(spark: SparkSession) -> None:
    chain = [(f"n{i:03d}", f"n{i + 1:03d}") for i in range(64)]
    with pytest.raises(ComponentsDidNotConvergeError, match="max_component_rounds"):
        _components(spark, chain, max_rounds=1)
