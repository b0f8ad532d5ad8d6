"""Turn --device auto|cpu|cuda into a torch.device, and what that device computes natively."""
import torch

from ike_utils.errors import InputError


def resolve_device(name: str = 'auto') -> torch.device:
    """auto picks CUDA when available, else the CPU; asking for CUDA without it is an input error."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cpu':
        return torch.device('cpu')
    if name.startswith('cuda'):
        if not torch.cuda.is_available():
            raise InputError('--device cuda was asked for but no CUDA device is available; use --device cpu or auto')
        return torch.device(name)
    raise InputError(f'unknown device {name!r}; use auto, cpu or cuda')


def has_native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 in hardware: a CUDA GPU that supports it, or a CPU
    with AVX-512 BF16 or AMX (oneDNN's test). Elsewhere bfloat16 is emulated, and on CPUs with
    only AVX2 a bf16 training step takes about ten times as long as in float32."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False
