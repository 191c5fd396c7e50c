import gzip
import hashlib
import json
from pathlib import Path

from benchmarks.corpus import generate


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.jsonl.gz")):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(gzip.decompress(path.read_bytes()))
    return digest.hexdigest()


def test_generator_is_deterministic_and_exact(tmp_path: Path) -> None:
    generate(tmp_path / "a", 3000, seed=7, shard_docs=1000)
    generate(tmp_path / "b", 3000, seed=7, shard_docs=1000)
    generate(tmp_path / "c", 3000, seed=8, shard_docs=1000)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")
    ids = []
    texts = []
    for path in sorted((tmp_path / "a").rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                ids.append(record["id"])
                texts.append(record["text"])
    assert len(ids) == 3000 == len(set(ids))
    duplicated = len(texts) - len(set(texts))
    assert 0 < duplicated < 0.1 * len(texts)
    assert len({path.parent.name for path in (tmp_path / "a").rglob("*.jsonl.gz")}) >= 5
