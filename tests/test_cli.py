"""``python -m reidlib``: list, profile, eval and the errors of train (in-process through main())."""

from __future__ import annotations

import json

import pytest

from reidlib import experiments
from reidlib.__main__ import build_parser, main


def test_list_prints_every_configuration_with_description(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(experiments.REGISTRY)
    by_name = {ln.split()[0]: ln for ln in lines}
    for name, exp in experiments.REGISTRY.items():
        assert exp.description in by_name[name]
    assert main(["list", "amfl.table3."]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(experiments.names("amfl.table3."))


def test_profile_dispatches_to_complexity(capsys):
    assert main(["profile", "amfl.table2.a", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["name"] == "amfl.table2.a" and res["params_m"] > 0


def test_train_defaults_and_errors(tmp_path, capsys):
    args = build_parser().parse_args(["train", "amfl.table1.a"])
    assert (args.profile, args.dataset, args.seed, args.device, args.data_root) == ("cpu", "synthreid", 0, "auto", None)
    assert main(["train", "nope", "--runs-root", str(tmp_path)]) == 2
    assert "unknown configuration 'nope'" in capsys.readouterr().err
    assert main(["train", "amfl.table1.a", "--profile", "smoke", "--dataset", "market1501",
                 "--data-root", str(tmp_path / "missing"), "--runs-root", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "missing") in err
    with pytest.raises(SystemExit):
        main(["train", "amfl.table1.a", "--profile", "turbo"])


def test_eval_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err


def test_device_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)  # the same on a machine with CUDA
    for device, says in (("cuda", "CUDA is not available on this machine; use --device cpu"),
                         ("gpu0", "'gpu0' is not a device name")):
        assert main(["train", "amfl.table1.a", "--profile", "smoke", "--device", device,
                     "--runs-root", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and says in err and err.count("\n") == 1, err


def test_eval_of_an_unfinished_run_is_one_line(tmp_path, capsys):
    run = tmp_path / "amfl.table1.a" / "smoke-synthreid-s0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"name": "amfl.table1.a", "profile": {"name": "smoke"},
                                                 "dataset": "synthreid", "seed": 0, "hash": "abc"}))
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err
    assert "has not finished training" in err and err.count("\n") == 1


def test_tables_lists_every_table_with_target_notebook_and_rows(capsys):
    from reidlib import tables

    assert main(["tables"]) == 0
    out = capsys.readouterr().out
    for t in tables.TABLES.values():
        head = next(ln for ln in out.splitlines() if ln.startswith(t.id + " "))
        assert f"make {t.target} " in head and f"notebooks/{t.notebook}.ipynb" in head and t.title in head
    assert "rows: a, b, c, d, e, f\n" in out and "rows: amfl.table3.a, 1e-4," in out
    assert main(["tables", "--makefile"]) == 0
    assert capsys.readouterr().out == tables.makefile()


def test_show_prints_a_written_table_and_names_a_missing_one(tmp_path, capsys):
    (tmp_path / "amfl").mkdir()
    (tmp_path / "amfl" / "table1-paper.md").write_text("### amfl Table I\n")
    assert main(["show", "amfl/table1", "--profile", "paper", "--output-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "### amfl Table I\n\n"
    assert main(["show", "amfl/table3", "--output-dir", str(tmp_path)]) == 2
    assert f"{tmp_path / 'amfl' / 'table3.md'} not found" in capsys.readouterr().err


def test_readme_rebuilds_the_results_section(tmp_path, monkeypatch, capsys):
    from reidlib import paths, reports

    (tmp_path / "results" / "mmps").mkdir(parents=True)
    (tmp_path / "results" / "mmps" / "fig4.md").write_text("### mmps Fig. 4\n")
    (tmp_path / "README.md").write_text(f"a\n{reports.RESULTS_BEGIN}\n{reports.RESULTS_END}\n")
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    assert main(["readme"]) == 0
    assert capsys.readouterr().out == "README.md: results section rebuilt from 1 tables\n"
    assert "#### mmps Fig. 4" in (tmp_path / "README.md").read_text()


def test_a_reader_that_leaves_early_is_no_error(monkeypatch):
    """``python -m reidlib list | head -1``: stdout's pipe closes under the writer; exit 0, no traceback."""
    import os

    r, w = os.pipe()
    os.close(r)  # the reader has gone: the first write raises BrokenPipeError
    with open(w, "w", buffering=1) as pipe:
        monkeypatch.setattr("sys.stdout", pipe)
        assert main(["list"]) == 0
