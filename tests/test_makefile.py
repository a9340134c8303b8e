"""The Makefile's reproduce targets, checked with `make -n` (prints the commands, runs nothing)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["reproduce-table1", "reproduce-table2", "reproduce-table3", "reproduce-table4", "reproduce-fig1",
           "reproduce-fig3", "reproduce-fig4", "reproduce-sigma", "reproduce-mmps-table1",
           "reproduce-mmps-table2", "reproduce-mmps-table3", "reproduce-mmps-table4", "reproduce-mmps-lambda",
           "reproduce-mmps-ablation"]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> str:
    out = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return out.stdout


def papermill_line(text: str) -> str:
    lines = [ln for ln in text.replace("\\\n", " ").splitlines() if "-m papermill" in ln]
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_runs_papermill_at_the_cpu_profile(target):
    line = papermill_line(dry_run(target))
    assert "-p profile cpu" in line and "-k reidlib" in line and "results/notebooks/" in line
    assert "output_dir" not in line  # default: the committed results/ tree


def test_help_lists_every_target():
    text = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = {ln.split()[0] for ln in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines() if ln.strip()}
    assert set(TARGETS + ["reproduce", "results", "test", "bench", "install", "nbval"]) <= names


def test_parameters_reach_the_notebook():
    line = papermill_line(dry_run("reproduce-table1", "PROFILE=paper", "DATASET=market1501",
                                  "DATA_ROOT=/data/reid", "SEEDS=0,1,2", "DEVICE=cuda"))
    assert "-p profile paper" in line and '-p dataset "market1501"' in line
    assert '-p data_root "/data/reid"' in line and "-p device cuda" in line and '"seeds: [0,1,2]"' in line


def test_output_dir_moves_tables_figures_and_the_executed_notebook():
    text = dry_run("reproduce-table1", "SEEDS=0,1,2", "OUTPUT_DIR=results/seeds")
    line = papermill_line(text)
    assert '-p output_dir "results/seeds"' in line
    assert "results/seeds/notebooks/amfl-table1-cpu.ipynb" in line
    assert "--output-dir results/seeds" in text


def test_multi_dataset_tables_default_to_all():
    assert '-p dataset "all"' in papermill_line(dry_run("reproduce-table4"))
    assert '-p dataset "synthreid"' in papermill_line(dry_run("reproduce-table4", "DATASET=synthreid"))
