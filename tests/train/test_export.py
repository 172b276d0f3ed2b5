"""export: trained weights round-trip exactly; untrained members are fresh and said to be; TorchScript."""
from __future__ import annotations

import pytest
import torch

from evonas.cli import main
from evonas.nn.network import build_network
from evonas.run.rundir import RunDir
from evonas.space.cell import Cell
from evonas.train.export import export_torchscript
from evonas.train.models import load_model_file, save_model
from fixtures_run import make_run


@pytest.fixture
def trained_run(tmp_path):
    """Front member 1 with (random, but not fresh-seeded) weights in models/1.pt."""
    run = RunDir.open(make_run(tmp_path))
    cell = Cell.from_string(run.pareto()[1]["arch"])
    torch.manual_seed(123)
    model = build_network(cell, C=4, N=1, num_classes=10)
    (run.path / "models").mkdir()
    save_model(run.path / "models" / "1.pt", model, cell, dataset="cifar10", C=4, N=1, metrics={"test_acc": 50.0})
    return run


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_export_round_trip_of_trained_weights(trained_run, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["export", str(trained_run.path), "--id", "1", "--out", str(out), "--torchscript"]) == 0
    said = capsys.readouterr().out
    assert "trained weights from" in said and "FRESHLY" not in said
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    reference = load_model_file(trained_run.path / "models" / "1.pt")(x)
    exported = load_model_file(out)
    assert torch.equal(exported(x), reference)
    blob = torch.load(out, weights_only=True)
    assert blob["arch"] == trained_run.pareto()[1]["arch"] and blob["metrics"]["test_acc"] == 50.0
    scripted = torch.jit.load(str(tmp_path / "m.torchscript.pt"))
    assert torch.allclose(scripted(x), reference, atol=1e-6)


def test_untrained_member_is_exported_fresh_and_said_so(trained_run, tmp_path, capsys):
    out = tmp_path / "fresh.pt"
    assert main(["export", str(trained_run.path), "--id", "0", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "FRESHLY INITIALISED" in said and f"evonas train {trained_run.path} --ids 0" in said
    model = load_model_file(out)
    # the hand-made front names index 0, which is not the cheapest of its class: exported reduced, and said so
    asked = trained_run.pareto()[0]["arch"]
    assert torch.load(out, weights_only=True)["arch"] == Cell.from_string(asked).reduced.arch
    assert f"{asked} was reduced to its cheapest equivalent" in said
    assert sum(p.numel() for p in model.parameters()) > 0


def test_export_by_arch_finds_the_front_member(trained_run, tmp_path, capsys):
    arch = trained_run.pareto()[1]["arch"]
    assert main(["export", str(trained_run.path), "--arch", arch, "--out", str(tmp_path / "a.pt")]) == 0
    assert "trained weights from" in capsys.readouterr().out


@pytest.mark.parametrize("args,needle", [
    (("--id", "7"), "--id 7 is not on the front; ids are 0..2"),
    ((), "exactly one of --id N"),
    (("--arch", "|bad|"), "malformed arch string"),
])
def test_export_errors(trained_run, tmp_path, capsys, args, needle):
    assert main(["export", str(trained_run.path), *args, "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evonas: error:") and needle in err


def test_an_arch_with_dead_convolutions_is_exported_reduced_and_said_so(trained_run, tmp_path, capsys):
    dear = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    out = tmp_path / "r.pt"
    assert main(["export", str(trained_run.path), "--arch", dear, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    reduced = Cell.from_string(dear).reduced
    assert torch.load(out, weights_only=True)["arch"] == reduced.arch != dear
    assert f"wrote {out}: {reduced.arch}" in said
    assert f"{dear} was reduced to its cheapest equivalent" in said
    assert "2<-0 nor_conv_3x3, 2<-1 nor_conv_3x3, 3<-1 nor_conv_3x3 dropped" in said


def test_a_cell_that_keeps_dead_edges_is_exported_with_a_note(trained_run, tmp_path, capsys):
    kept = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert main(["export", str(trained_run.path), "--arch", kept, "--out", str(tmp_path / "k.pt")]) == 0
    assert "the cell keeps dead edges 3<-2 nor_conv_3x3" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_computes_the_same_logits_and_leaves_the_mode_alone(tmp_path):
    model = build_network(Cell.from_index(123), C=8, N=1, seed=0).train()
    images = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    path = export_torchscript(model, 32, tmp_path / "model.ts")
    assert model.training and path == tmp_path / "model.ts" and not list(tmp_path.glob("*.tmp"))
    with torch.no_grad():
        expected = model.eval()(images)
    assert torch.allclose(torch.jit.load(str(path))(images), expected, atol=1e-5)
