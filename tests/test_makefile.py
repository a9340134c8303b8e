"""The Makefile's reproduce targets (tables.mk, generated from reidlib/tables.py), checked with
`make -n` (prints the commands, runs nothing), and README's table of targets against the registry."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reidlib import tables

ROOT = Path(__file__).resolve().parents[1]
TARGETS = [t.target for t in tables.TABLES.values()]

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> str:
    out = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return out.stdout


def papermill_line(text: str) -> str:
    lines = [ln for ln in text.replace("\\\n", " ").splitlines() if "-m papermill" in ln]
    assert len(lines) == 1, text
    return lines[0]


def test_tables_mk_is_generated_from_the_registry():
    assert (ROOT / "tables.mk").read_text(encoding="utf-8") == tables.makefile(), \
        "tables.mk is stale: run `make tables` (python -m reidlib tables --makefile > tables.mk)"


@needs_make
@pytest.mark.parametrize("table", tables.TABLES.values(), ids=lambda t: t.target)
def test_every_target_runs_its_notebook_at_the_cpu_profile(table):
    text = dry_run(table.target)
    line = papermill_line(text)
    assert f"notebooks/{table.notebook}.ipynb" in line
    assert f"results/notebooks/{table.id.replace('.', '-')}-cpu.ipynb" in line
    assert "-p profile cpu" in line and "-k reidlib" in line
    assert "output_dir" not in line  # default: the committed results/ tree
    assert (f"'tables: [{table.id}]'" in line) == table.selects
    if table.writes_table:
        assert f"show --profile cpu  {table.paper}/{table.short}" in text
    else:
        assert all(f"results/figures/{f}" in text for f in table.figures)


@needs_make
def test_reproduce_runs_every_table():
    text = dry_run("reproduce")
    ran = re.findall(r"results/notebooks/([\w-]+)-cpu\.ipynb", text)
    assert ran == [t.id.replace(".", "-") for t in tables.TABLES.values()]
    assert "-m reidlib readme" in text


@needs_make
def test_help_lists_every_target():
    text = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = {ln.split()[0] for ln in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines() if ln.strip()}
    assert set(TARGETS + ["reproduce", "results", "test", "bench", "install", "nbval"]) <= names


@needs_make
def test_parameters_reach_the_notebook():
    line = papermill_line(dry_run("reproduce-table1", "PROFILE=paper", "DATASET=market1501",
                                  "DATA_ROOT=/data/reid", "SEEDS=0,1,2", "DEVICE=cuda"))
    assert "-p profile paper" in line and '-p dataset "market1501"' in line
    assert '-p data_root "/data/reid"' in line and "-p device cuda" in line and '"seeds: [0,1,2]"' in line


@needs_make
def test_output_dir_moves_tables_figures_and_the_executed_notebook():
    text = dry_run("reproduce-table1", "SEEDS=0,1,2", "OUTPUT_DIR=results/seeds")
    line = papermill_line(text)
    assert '-p output_dir "results/seeds"' in line
    assert "results/seeds/notebooks/amfl-table1-cpu.ipynb" in line
    assert "--output-dir results/seeds" in text


@needs_make
def test_multi_dataset_tables_default_to_all():
    assert '-p dataset "all"' in papermill_line(dry_run("reproduce-table4"))
    assert '-p dataset "synthreid"' in papermill_line(dry_run("reproduce-table4", "DATASET=synthreid"))


def test_readme_lists_every_target_with_its_notebook():
    """README's "paper | table / figure | make target | notebook" rows are the registry's, one each."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (amfl|mmps) \| [^|]+ \| `make ([a-z0-9-]+)` \| \[(\w+)\]\(notebooks/(\w+)\.ipynb\)", text, re.M)
    assert [(p, target, nb) for p, target, nb, _ in rows] == \
        [(t.paper, t.target, t.notebook) for t in tables.TABLES.values()]
    assert all(a == b for *_, a, b in rows)
