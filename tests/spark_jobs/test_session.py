import pytest

from assets.resources import SparkResource
from spark_jobs.clean import read_bronze_files
from spark_jobs.session import SparkMasterError, spark_session
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
    assert spark_session("local[2]") is spark
    with pytest.raises(ValueError, match="no bronze files"):
        read_bronze_files(spark, [], "b1")


def test_partitions_grow_with_the_batch() -> None:
    from spark_jobs.clean import DOCS_PER_PARTITION, partitions_for

    assert partitions_for(0) == 2
    assert partitions_for(DOCS_PER_PARTITION * 10 + 1) == 11
