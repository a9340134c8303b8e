"""environment.yml (conda users) and pyproject.toml (pip) name the same packages; what git keeps of results/runs/."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_and_pyproject_name_the_same_packages() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (the conda env pins 3.11)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    pip_names |= {_name(r) for extra in project.get("optional-dependencies", {}).values() for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_names: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            conda_names |= {_name(r) for r in dep["pip"] if not r.startswith("-e")}
        else:
            conda_names.add(_name(dep))
    conda_names -= {"python", "pip"}
    assert conda_names == pip_names, (f"only in environment.yml: {sorted(conda_names - pip_names)}; "
                                      f"only in pyproject.toml: {sorted(pip_names - conda_names)}")


def test_pins_that_matter_agree() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    env = (ROOT / "environment.yml").read_text()
    for pin in ("torch==2.14.1", "torchvision==0.29.1"):
        assert pin in pyproject and pin in env
    assert "-e ." in env


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_finished_runs_small_files_are_committed_and_checkpoints_are_not():
    run = "results/runs/amfl.table1.a/cpu-synthreid-s0"
    paths = [f"{run}/{f}" for f in ("config.json", "metrics.json", "log.csv", "history.json", "checkpoint.pt")]
    out = subprocess.run(["git", "check-ignore", "--no-index", *paths, "results/runs/amfl.table1.a/.cpu-synthreid-s0.lock"],
                         cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert out == [f"{run}/checkpoint.pt", "results/runs/amfl.table1.a/.cpu-synthreid-s0.lock"]
