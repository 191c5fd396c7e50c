import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assets.resources import SparkResource
from spark_jobs.clean import read_bronze_files
from spark_jobs.session import DEFAULT_MASTER, SparkMasterError, spark_session
from tests.spark_cluster import spark  # noqa: F401  (fixture)


def test_unknown_master_is_refused_with_the_accepted_forms() -> None:
    with pytest.raises(SparkMasterError, match="spark://host:port"):
        spark_session("yarn")


def test_master_precedence_field_env_recipe_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FUNNEL_SPARK_MASTER", raising=False)
    assert SparkResource().resolved_master() == "local[*]"
    monkeypatch.setenv("FUNNEL_SPARK_MASTER", "spark://127.0.0.1:7077")
    assert SparkResource().resolved_master() == "spark://127.0.0.1:7077"
    assert SparkResource(master="local[2]").resolved_master() == "local[2]"


def test_session_is_shared_within_the_process(spark) -> None:  # noqa: F811
    assert spark_session(DEFAULT_MASTER) is spark
    with pytest.raises(ValueError, match="no bronze files"):
        read_bronze_files(spark, [], "b1")


# Run in a fresh interpreter: switching masters stops the session the other tests share.
SWITCH_MASTERS = """
import json
from spark_jobs.session import spark_session
first = spark_session("local[1]")
reused = spark_session("local[1]")
first_parallelism = first.sparkContext.defaultParallelism
second = spark_session("local[2]")
print(json.dumps({
    "reused": reused is first,
    "first": [first_parallelism, first.sparkContext._jsc is None],
    "second": [second.sparkContext.master, second.sparkContext.defaultParallelism],
    "rows": second.range(5).count(),
}))
second.stop()
"""


@pytest.mark.slow
def test_a_session_on_another_master_is_replaced_by_the_one_asked_for() -> None:
    project = Path(__file__).resolve().parents[2]
    env = os.environ | {"PYTHONPATH": str(project)}
    done = subprocess.run(
        [sys.executable, "-c", SWITCH_MASTERS],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "reused": True,
        "first": [1, True],
        "second": ["local[2]", 2],
        "rows": 5,
    }


def test_partitions_grow_with_the_batch() -> None:
    from spark_jobs.clean import DOCS_PER_PARTITION, partitions_for

    assert partitions_for(0) == 2
    assert partitions_for(DOCS_PER_PARTITION * 10 + 1) == 11
