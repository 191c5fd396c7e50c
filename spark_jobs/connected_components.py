"""Connected components of an undirected graph in Spark: alternating large-star and small-star.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014). Each round is two
shuffles; the edge set shrinks towards one star per component, centred on the component's
smallest node, in O(log² n) rounds. Nothing is collected to the driver, so a component of any
size (thousands of copies of one text) is just a large star.

Nodes are any orderable column type; the component of a node is the smallest node in it, so
callers choose the representative by choosing how nodes sort.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


class ComponentsDidNotConvergeError(RuntimeError):
    """The iteration hit its round limit before every component became a star."""


def _oriented(edges: DataFrame) -> DataFrame:
    """Each undirected edge once, as (larger `u`, smaller `v`); self-loops dropped."""
    return (
        edges.where(F.col("u") != F.col("v"))
        .select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v"))
        .distinct()
    )


def _large_star(edges: DataFrame) -> DataFrame:
    """Connect every larger neighbour of a node to the smallest node of its neighbourhood."""
    both = edges.unionByName(edges.select(F.col("v").alias("u"), F.col("u").alias("v")))
    smallest = both.groupBy("u").agg(F.least(F.min("v"), F.col("u")).alias("m"))
    return _oriented(
        both.where(F.col("v") > F.col("u"))
        .join(smallest, "u")
        .select(F.col("v").alias("u"), F.col("m").alias("v"))
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Connect every node and its smaller neighbours to the smallest of them."""
    smallest = edges.groupBy("u").agg(F.min("v").alias("m"))
    neighbours = edges.join(smallest, "u").select(F.col("v").alias("u"), F.col("m").alias("v"))
    centres = smallest.select("u", F.col("m").alias("v"))
    return _oriented(neighbours.unionByName(centres))


def connected_components(
    edges: DataFrame, src: str = "src", dst: str = "dst", max_rounds: int = 64
) -> DataFrame:
    """(`node`, `component`) for every node that has an edge; `component` is its smallest node.

    Raises ComponentsDidNotConvergeError after `max_rounds` rounds without convergence (the
    recipe's `dedup.max_component_rounds`), rather than running on.
    """
    current = _oriented(edges.select(F.col(src).alias("u"), F.col(dst).alias("v")))
    current = current.localCheckpoint(eager=False)
    fingerprint = _fingerprint(current)
    if fingerprint[0] == 0:
        return _components(current)
    for _ in range(max_rounds):
        following = _small_star(_large_star(current)).localCheckpoint(eager=False)
        following_fingerprint = _fingerprint(following)
        if following_fingerprint == fingerprint:
            return _components(following)
        current, fingerprint = following, following_fingerprint
    raise ComponentsDidNotConvergeError(
        f"connected components did not converge in {max_rounds} rounds; raise "
        "dedup.max_component_rounds in the recipe"
    )


def _fingerprint(edges: DataFrame) -> tuple[int, int, int]:
    """Edge count and two sums of independent edge hashes, in one pass (materializes `edges`).

    Two rounds with equal fingerprints have the same edge set (a false match needs two 31-bit
    sums to collide at once), which is the fixed point of large-star/small-star.
    """
    (row,) = edges.agg(
        F.count("*").alias("edges"),
        F.sum(F.pmod(F.xxhash64("u", "v"), F.lit(1 << 31))).alias("first"),
        F.sum(F.pmod(F.hash("v", "u"), F.lit(1 << 31))).alias("second"),
    ).collect()
    return int(row.edges), int(row.first or 0), int(row.second or 0)


def _components(stars: DataFrame) -> DataFrame:
    """Node → smallest node of its star (the centre maps to itself)."""
    leaves = stars.select(F.col("u").alias("node"), F.col("v").alias("component"))
    centres = stars.select(F.col("v").alias("node"), F.col("v").alias("component"))
    return leaves.unionByName(centres).groupBy("node").agg(F.min("component").alias("component"))
