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


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_device_errors_are_one_line(tmp_path, capsys):
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
