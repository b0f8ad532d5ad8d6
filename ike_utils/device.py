"""Turn --device auto|cpu|cuda into a torch.device."""
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
