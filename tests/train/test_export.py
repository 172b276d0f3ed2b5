"""export: trained weights round-trip exactly; untrained members are fresh and said to be; a torch.export
program and an ONNX model compute the torch model's logits (ONNX: under onnxruntime, on real images); TorchScript
while torch has it."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from evonas.cli import main
from evonas.nn.images import load_images
from evonas.nn.network import build_network
from evonas.run.rundir import RunDir
from evonas.space.cell import Cell
from evonas.train.export import ONNX_ATOL, export_program, export_torchscript, has_torchscript
from evonas.train.models import load_model_file, save_model
from fixtures_run import make_run


@pytest.fixture
def trained_run(tmp_path):
    """Front member 1 with (random, but not fresh-seeded) weights in models/1.pt."""
    run = RunDir.open(make_run(tmp_path))
    cell = Cell.from_string(run.pareto()[1]["arch"])
    torch.manual_seed(123)
    model = build_network(cell, C=4, N=1, num_classes=10)
    with torch.no_grad():  # batch-norm statistics as training leaves them, not the identity
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    (run.path / "models").mkdir()
    save_model(run.path / "models" / "1.pt", model, cell, dataset="cifar10", C=4, N=1, metrics={"test_acc": 50.0})
    return run


def test_export_round_trip_of_trained_weights(trained_run, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["export", str(trained_run.path), "--id", "1", "--out", str(out), "--format", "program"]) == 0
    said = capsys.readouterr().out
    assert "trained weights from" in said and "FRESHLY" not in said
    assert f"program: {tmp_path / 'm.pt2'}  (load: torch.export.load(" in said
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    reference = load_model_file(trained_run.path / "models" / "1.pt")(x)
    exported = load_model_file(out)
    assert torch.equal(exported(x), reference)
    blob = torch.load(out, weights_only=True)
    assert blob["arch"] == trained_run.pareto()[1]["arch"] and blob["metrics"]["test_acc"] == 50.0
    program = torch.export.load(tmp_path / "m.pt2").module()
    assert torch.allclose(program(x), reference, atol=1e-5)


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
    (("--id", "7"), "--id 7 is not on the front (nor shortlisted for training); ids are 0..2"),
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


def test_a_program_computes_the_same_logits_for_any_batch_and_leaves_the_mode_alone(tmp_path):
    net = build_network(Cell.from_index(123), C=8, N=1, seed=0).train()
    path = export_program(net, 32, tmp_path / "model.pt2")
    assert net.training and path == tmp_path / "model.pt2" and not list(tmp_path.glob("*.tmp*"))
    program = torch.export.load(path).module()
    for n in (1, 5):
        images = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(n))
        with torch.no_grad():
            expected = net.eval()(images)
        assert torch.allclose(program(images), expected, atol=1e-5)


def test_onnx_computes_the_torch_logits_on_real_images(trained_run, tmp_path, capsys):
    """The file passes onnx.checker; under onnxruntime its float32 logits on 32 packaged CIFAR-10 test
    images are the torch model's within ONNX_ATOL (1e-4), with the same predicted classes."""
    import onnx
    import onnxruntime

    out = tmp_path / "m.pt"
    assert main(["export", str(trained_run.path), "--id", "1", "--out", str(out), "--format", "onnx"]) == 0
    said = capsys.readouterr().out
    assert f"onnx:    {tmp_path / 'm.onnx'}  (load: onnxruntime.InferenceSession(" in said
    assert "checked: onnx.checker; onnxruntime equals torch on 16 test images: max |logit difference|" in said
    assert ONNX_ATOL == 1e-4 and not list(tmp_path.glob("*.tmp*"))
    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)
    images = load_images("cifar10", split="test", n=32, seed=1).images  # another batch size than the export's
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        expected = load_model_file(out)(images).numpy()
    assert np.abs(logits - expected).max() <= ONNX_ATOL
    assert (logits.argmax(1) == expected.argmax(1)).all()


def test_onnx_names_the_extra_when_a_package_is_missing(trained_run, tmp_path, capsys, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else
                        find_spec(name, *a))
    assert main(["export", str(trained_run.path), "--id", "1", "--out", str(tmp_path / "m.pt"),
                 "--format", "onnx"]) == 2
    assert "--format onnx needs onnxruntime: pip install 'evonas[export]'" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()  # nothing written before the check


@pytest.mark.skipif(not has_torchscript(), reason="this torch has no TorchScript")
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")  # the test's own load
def test_torchscript_computes_the_same_logits_and_leaves_the_mode_alone(tmp_path):
    model = build_network(Cell.from_index(123), C=8, N=1, seed=0).train()
    images = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    path = export_torchscript(model, 32, tmp_path / "model.ts")
    assert model.training and path == tmp_path / "model.ts" and not list(tmp_path.glob("*.tmp"))
    with torch.no_grad():
        expected = model.eval()(images)
    assert torch.allclose(torch.jit.load(str(path))(images), expected, atol=1e-5)


@pytest.mark.skipif(not has_torchscript(), reason="this torch has no TorchScript")
def test_torchscript_is_written_with_a_note_that_it_is_deprecated(trained_run, tmp_path, capsys):
    assert main(["export", str(trained_run.path), "--id", "1", "--out", str(tmp_path / "m.pt"), "--torchscript"]) == 0
    said = capsys.readouterr().out
    assert f"torchscript: {tmp_path / 'm.torchscript.pt'}" in said
    assert "TorchScript is deprecated by torch: prefer --format program (torch.export)" in said


def test_torchscript_without_torchscript_says_what_to_use(trained_run, tmp_path, capsys, monkeypatch):
    monkeypatch.delattr(torch.jit, "trace")
    assert main(["export", str(trained_run.path), "--id", "1", "--out", str(tmp_path / "m.pt"), "--torchscript"]) == 2
    assert "has no TorchScript; export a torch.export program instead (--format program)" in capsys.readouterr().err


def test_a_member_shortlisted_off_the_front_is_exported_by_its_id(trained_run, tmp_path, capsys):
    """train.bands_over: scored gives an off-front cell id 3 in shortlist.csv; export --id 3 builds that cell."""
    from evonas.space.table import load_table

    cell = load_table().cell(100)  # a dominated candidate of the hand-made run
    trained_run.write_shortlist([{"id": 3, "band": 2, "on_front": False, "arch": cell.arch, "index": 100,
                                  "canonical": cell.canonical}], ["id", "band", "on_front", "arch", "index",
                                                                  "canonical"])
    out = tmp_path / "s.pt"
    assert main(["export", str(trained_run.path), "--id", "3", "--out", str(out)]) == 0
    assert torch.load(out, weights_only=True)["arch"] == cell.reduced.arch
    assert "FRESHLY INITIALISED" in capsys.readouterr().out
