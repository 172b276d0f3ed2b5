"""Device choice and the CUDA numerics of scoring and training."""
from __future__ import annotations

import pytest
import torch

from evonas.errors import ConfigError
from evonas.nn.devices import configure_scoring, device_name, resolve_device, scoring_flags, training_numerics


@pytest.fixture
def restore_flags():
    """Leave the process-wide flags as the test found them."""
    before = scoring_flags()
    yield
    torch.backends.cuda.matmul.allow_tf32 = before["tf32_matmul"]
    torch.backends.cudnn.allow_tf32 = before["tf32_conv"]
    torch.backends.cudnn.deterministic = before["cudnn_deterministic"]
    torch.backends.cudnn.benchmark = before["cudnn_benchmark"]


def test_configure_scoring_turns_tf32_off_and_cudnn_deterministic(restore_flags) -> None:
    torch.backends.cudnn.allow_tf32 = True  # torch's default for cuDNN convolutions
    torch.backends.cudnn.benchmark = True
    assert scoring_flags()["tf32_conv"] and scoring_flags()["cudnn_benchmark"]
    flags = configure_scoring("cpu")
    assert flags == {"tf32_matmul": False, "tf32_conv": False, "cudnn_deterministic": True,
                     "cudnn_benchmark": False}
    assert scoring_flags() == flags and configure_scoring() == flags  # idempotent, any device
    if hasattr(torch.backends.cudnn, "conv"):  # torch >= 2.9 reads the per-backend settings
        assert torch.backends.cudnn.conv.fp32_precision != "tf32"
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"


def test_flags_stay_readable_by_torch_after_configure_scoring(restore_flags) -> None:
    """torch.backends.cudnn.flags() (used by torch.jit.trace) reads the legacy switch: it must not fail."""
    configure_scoring()
    with torch.backends.cudnn.flags(enabled=True):
        pass
    with training_numerics("cuda"):
        with torch.backends.cudnn.flags(enabled=True):
            pass


def test_training_numerics_restores_the_scoring_flags(restore_flags) -> None:
    scoring = configure_scoring()
    with training_numerics("cpu"):
        assert scoring_flags() == scoring  # nothing changes on the CPU
    with training_numerics(torch.device("cuda")):  # the flags exist on a CPU build too
        inside = scoring_flags()
        assert inside["tf32_conv"] and inside["tf32_matmul"] and inside["cudnn_benchmark"]
        assert not inside["cudnn_deterministic"]
    assert scoring_flags() == scoring


def test_resolve_device_and_name() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert isinstance(device_name("cpu"), str) and device_name("cpu")
    with pytest.raises(ConfigError, match="unknown value 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")
