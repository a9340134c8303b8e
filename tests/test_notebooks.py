"""The notebooks' structure (one parameters cell, the kernel, a checked table) and the output cleaner."""

import ast
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from reidlib import nbtools, tables
from reidlib.paths import repo_root

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("*.ipynb"))
PARAMS = {"dataset", "data_root", "profile", "device", "seeds", "rows", "output_dir"}
#: Control flow and logic a notebook must leave to reidlib (where tests reach it).
LOGIC = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.IfExp, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
         ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Try, ast.With)


def test_every_table_has_its_notebook_and_every_notebook_a_table():
    assert {t.notebook for t in tables.TABLES.values()} == {p.stem for p in NOTEBOOKS}


def logic_in(source: str) -> list[str]:
    return [f"line {n.lineno}: {type(n).__name__}" for n in ast.walk(ast.parse(source)) if isinstance(n, LOGIC)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_thin(path):
    """Outside the parameters cell a code cell only calls reidlib and shows the result: no for, if,
    def, lambda or comprehension."""
    nb = nbformat.read(path, as_version=4)
    found = {i: logic_in(c.source) for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])}
    assert {i: f for i, f in found.items() if f} == {}, path.name


def test_the_thin_notebook_check_finds_logic():
    assert logic_in("x = [a for a in b]\nprint(x)") == ["line 1: ListComp"]
    assert logic_in("if x:\n    y = 1") == ["line 1: If"]
    assert logic_in("f = lambda v: v") == ["line 1: Lambda"]
    assert logic_in("res = reproduce.reproduce('amfl.table1', **common)\nprint(res.show())") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "reidlib"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = {t.id for node in ast.parse(tagged[0].source).body if isinstance(node, ast.Assign) for t in node.targets}
    assert PARAMS <= names
    defaults = {}
    exec(tagged[0].source, {}, defaults)
    assert defaults["profile"] == "smoke" and defaults["seeds"] == [0] and defaults["rows"] is None
    assert any(c.source.startswith("# NBVAL_CHECK_OUTPUT") for c in nb.cells if c.cell_type == "code")
    for c in nb.cells:
        for o in c.get("outputs", []):
            assert not (o.output_type == "stream" and o.name == "stderr"), f"{path.name}: stderr committed"
            text = o.get("text", "") + "".join(v for k, v in o.get("data", {}).items()
                                               if isinstance(v, str) and not k.startswith("image/"))
            assert not re.search(r"(/work/|/home/|/tmp/|/root/)", text), f"{path.name}: absolute path in output"
            assert o.output_type != "error", f"{path.name}: committed with an error"


def test_clean_strips_stderr_metadata_and_paths(tmp_path):
    cell = new_code_cell("print(1)")
    cell.metadata["papermill"] = {"duration": 1.0}
    cell.outputs = [new_output("stream", name="stderr", text="epoch 1: 3.2s/it"),
                    new_output("stream", name="stdout", text=f"wrote {tmp_path}/results/x.md"),
                    new_output("display_data", data={"text/plain": f"{tmp_path}", "image/png": "AAAA"})]
    nb = new_notebook(cells=[cell], metadata={"papermill": {"input_path": "/x"}})
    out = nbtools.clean(nb, tmp_path)
    assert "papermill" not in out.metadata and "papermill" not in out.cells[0].metadata
    assert out.metadata["kernelspec"]["name"] == "reidlib"
    assert [o.output_type for o in out.cells[0].outputs] == ["stream", "display_data"]
    assert out.cells[0].outputs[0].text == "wrote results/x.md"
    assert out.cells[0].outputs[1].data["text/plain"] == "."


def test_main_usage():
    assert nbtools.main([]) == 2


def _has_reidlib_kernel() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return "reidlib" in KernelSpecManager().find_kernel_specs()


@pytest.mark.skipif(not _has_reidlib_kernel(), reason="the 'reidlib' kernel is not registered (make install)")
@pytest.mark.parametrize("where", ["root", "notebooks"])
def test_papermill_runs_from_the_root_and_from_notebooks(where, tmp_path):
    """Issue 6's acceptance command, `papermill notebooks/ablation_msgr.ipynb out.ipynb -p profile smoke`,
    from the repo root and (with the notebook's path adjusted) from notebooks/."""
    import subprocess
    import sys

    root = repo_root()
    cwd, nb = (root, "notebooks/ablation_msgr.ipynb") if where == "root" else (root / "notebooks",
                                                                                 "ablation_msgr.ipynb")
    out = tmp_path / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", nb, str(out), "-p", "profile", "smoke",
                           "-p", "output_dir", str(tmp_path / "results")], cwd=cwd, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = nbformat.read(out, as_version=4)
    printed = "".join(o.get("text", "") for c in ran.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "amfl.table3.a" in printed and "| ours rank-1" in printed
    assert (tmp_path / "results" / "amfl" / "table3.md").is_file()


def test_injected_parameter_names_checked_against_the_parameters_cell():
    from reidlib.nbparams import UnknownParameterError, check_injected_parameters

    params = 'profile = "smoke"  # smoke | cpu\nseeds: list = [0]\ndevice = "auto"\n'
    check_injected_parameters(["", params, '# Parameters\nprofile = "cpu"\nseeds = [0, 1]\n'])  # known
    check_injected_parameters(["", params, "x = 1\n"])  # no papermill run: nothing injected
    with pytest.raises(UnknownParameterError, match=r"profil; this notebook's parameters are device, profile"):
        check_injected_parameters(["", params, '# Parameters\nprofil = "cpu"\n'])


@pytest.mark.skipif(not _has_reidlib_kernel(), reason="the 'reidlib' kernel is not registered (make install)")
def test_papermill_misspelt_parameter_fails_naming_the_known_ones(tmp_path):
    """`papermill ... -p profil cpu` (as the make targets call it) stops at notebook_setup()."""
    import subprocess
    import sys

    out = tmp_path / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", "-k", "reidlib", "notebooks/complexity.ipynb", str(out),
                           "-p", "profil", "cpu"], cwd=repo_root(), capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "unknown notebook parameter(s) profil" in proc.stderr and "profile" in proc.stderr, proc.stderr[-2000:]
