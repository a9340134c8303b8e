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


def test_device_cuda_without_cuda_is_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert main(["train", "amfl.table1.a", "--profile", "smoke", "--device", "cuda",
                 "--runs-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: device 'cuda'") and "CUDA is not available" in err and "\n" not in err
