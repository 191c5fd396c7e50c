import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.sh"


def test_the_gpu_script_parses() -> None:
    completed = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_the_gpu_script_refuses_a_missing_wheels_folder_before_doing_anything(
    tmp_path: Path,
) -> None:
    completed = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "no-such-folder")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "VENV": str(tmp_path / "venv")},
    )
    assert completed.returncode == 2
    assert "usage: benchmarks/gpu.sh WHEELS_DIR" in completed.stderr
    assert not (tmp_path / "venv").exists()
