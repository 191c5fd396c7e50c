import gzip
import multiprocessing
import statistics
from pathlib import Path

import pytest

from benchmarks.ingest import corpus_dir, render, summarize


def _runs() -> list[dict]:
    runs = []
    for peer, ours in ((2.0, 4.0), (1.0, 5.0), (3.0, 3.0)):
        runs.append({"engine": "pyarrow", "seconds": peer, "docs_written": 1000, "peak_rss_mb": 90})
        runs.append(
            {
                "engine": "funnel",
                "seconds": ours,
                "process_seconds": ours + 10,
                "docs_written": 1000,
                "peak_rss_mb": 1100,
            }
        )
    return runs


def test_summarize_divides_median_rates_and_pairs_runs_in_order() -> None:
    summary = summarize(1000, 2, 10.0, _runs())
    assert summary["pyarrow"]["docs_per_s"] == 500 and summary["funnel"]["docs_per_s"] == 250
    assert summary["ratio_docs_per_s"] == 0.5
    assert summary["pairwise_ratio"] == [0.5, 0.2, 1.0]
    assert summary["funnel"]["seconds"] == {"median": 4.0, "min": 3.0, "max": 5.0, "n": 3}
    assert summary["funnel"]["process_seconds"]["median"] == 14.0
    assert summary["funnel"]["mb_per_s"] == 2.5


def test_render_shows_each_size_with_its_ratio_against_the_target() -> None:
    summary = summarize(1000, 2, 10.0, _runs())
    text = render({"summary": {"target_ratio": 0.8, "sizes": [summary]}})
    assert "**1,000 documents** (2 files, 10.0 MB of JSON)" in text
    assert "| funnel | 4.00 | 3.00–5.00, 3 | 250 | 2.5 | 1,100 |" in text
    assert "**0.50** (target ≥ 0.8: not met); pairwise 0.50, 0.20, 1.00" in text


def test_summarize_without_funnel_runs_fails() -> None:
    runs = [run for run in _runs() if run["engine"] == "pyarrow"]
    with pytest.raises(statistics.StatisticsError):
        summarize(1000, 2, 10.0, runs)


def _corpus_in(root: str, docs: int) -> str:
    from benchmarks.ingest import corpus_dir

    return str(corpus_dir(docs, Path(root)))


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_two_runs_generating_one_corpus_at_once_leave_one_whole_copy(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        folders = pool.starmap(_corpus_in, [(str(tmp_path), 40)] * 2)
    assert folders == [str(tmp_path / "corpus-40")] * 2
    # Nothing but the corpus is left: no staging folder of the run that lost the race.
    assert [path.name for path in tmp_path.iterdir()] == ["corpus-40"]
    alone = tmp_path / "alone"
    tree = _tree(corpus_dir(40, alone))
    assert tree == _tree(tmp_path / "corpus-40")
    assert tree[".complete"] == b"40" and any(name.endswith(".jsonl.gz") for name in tree)


def test_a_corpus_left_half_written_is_replaced(tmp_path: Path) -> None:
    broken = tmp_path / "corpus-40"
    (broken / "licenses").mkdir(parents=True)
    (broken / "licenses" / "part-00000.jsonl.gz").write_bytes(b"\x1f\x8b cut")
    folder = corpus_dir(40, tmp_path)
    assert folder == broken and (folder / ".complete").read_text() == "40"
    with gzip.open(folder / "licenses" / "part-00000.jsonl.gz") as part:
        assert part.readline().startswith(b"{")
    assert [path.name for path in tmp_path.iterdir()] == ["corpus-40"]
