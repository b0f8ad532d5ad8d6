"""Load RAFT checkpoints onto torchvision's RAFT.

The official princeton-vl/RAFT checkpoints (raft-things.pth, raft-sintel.pth, raft-kitti.pth,
raft-chairs.pth for the large model, raft-small.pth for the small one) were saved from a
`torch.nn.DataParallel` wrapper, so every key starts with `module.`, and their module names differ
from torchvision's. The tensors are identical in shape, so loading is a pure renaming:

    fnet / cnet                          -> feature_encoder / context_encoder
    <encoder>.conv1, .norm1              -> <encoder>.convnormrelu.0, .1
    <encoder>.conv2                      -> <encoder>.conv
    <block>.convK, .normK                -> <block>.convnormreluK.0, .1
    update_block.encoder.convc1/2, convf1/2, conv -> update_block.motion_encoder.convcorr1/2.0, ...
    update_block.gru.convz1 (large), .convz (small) -> update_block.recurrent_block.convgru1.convz
    update_block.mask.0 / .2             -> mask_predictor.convrelu.0 / .conv

The original's strided residual blocks own one more norm than they have convolutions (`norm3` of a
2-conv block, `norm4` of a 3-conv bottleneck block); it is the same module as `downsample.1`, saved
twice, so it is dropped. State dicts already in torchvision's naming load unchanged. Large or small
is chosen from the keys.
"""
import functools
import re
from pathlib import Path

import torch
from torchvision.models.optical_flow import raft_large, raft_small

from ike_utils.errors import InputError


def download_hint(method_flag: str = '--method') -> str:
    """Where to get the weights, and the alternative, named with the flag of the running command."""
    return ('download the official weights (models.zip, linked from the princeton-vl/RAFT README; '
            'see RAFT/models/README.md) and unzip raft-things.pth into RAFT/models/, '
            f'or use {method_flag} dis, which needs no weights')


DOWNLOAD_HINT = download_hint()

BUILDERS = {'large': raft_large, 'small': raft_small}

_ENCODER_RENAMES = {'conv1': 'convnormrelu.0', 'norm1': 'convnormrelu.1', 'conv2': 'conv'}
_MOTION_RENAMES = {'convc1': 'convcorr1.0', 'convc2': 'convcorr2.0', 'convf1': 'convflow1.0',
                   'convf2': 'convflow2.0', 'conv': 'conv.0'}
_BLOCK_LAYER = re.compile(r'^(layer\d\.\d)\.(conv|norm)(\d)\.(.+)$')
_MASK_RENAMES = {'0': 'convrelu.0', '2': 'conv'}
_GRU_CONV = re.compile(r'^conv([zrq])(\d?)\.(.+)$')


def _rename_encoder_key(rest: str, block_conv_counts: dict):
    """Rename the part of an fnet/cnet key after the encoder name; None for a duplicate norm."""
    match = _BLOCK_LAYER.match(rest)
    if match:
        block, kind, index, leaf = match.groups()
        if kind == 'norm' and int(index) > block_conv_counts.get(block, 0):
            return None  # the downsample norm saved a second time under this name
        return f'{block}.convnormrelu{index}.{"0" if kind == "conv" else "1"}.{leaf}'
    head, _, leaf = rest.partition('.')
    if head in _ENCODER_RENAMES:
        return f'{_ENCODER_RENAMES[head]}.{leaf}'
    return rest  # e.g. layer1.0.downsample.0.weight: same name in both


def _rename_original_key(key: str, block_conv_counts: dict):
    """Map one princeton-vl key (without `module.`) to torchvision's naming; None to drop it."""
    network, _, rest = key.partition('.')
    if network in ('fnet', 'cnet'):
        renamed = _rename_encoder_key(rest, block_conv_counts.get(network, {}))
        encoder = 'feature_encoder' if network == 'fnet' else 'context_encoder'
        return None if renamed is None else f'{encoder}.{renamed}'
    if network == 'update_block':
        part, _, rest = rest.partition('.')
        if part == 'encoder':
            head, _, leaf = rest.partition('.')
            return f'update_block.motion_encoder.{_MOTION_RENAMES.get(head, head)}.{leaf}'
        if part == 'gru':
            match = _GRU_CONV.match(rest)
            if match:
                gate, index, leaf = match.groups()
                return f'update_block.recurrent_block.convgru{index or 1}.conv{gate}.{leaf}'
        if part == 'mask':
            head, _, leaf = rest.partition('.')
            return f'mask_predictor.{_MASK_RENAMES.get(head, head)}.{leaf}'
        return f'update_block.{part}.{rest}'
    return key


def _block_conv_counts(keys):
    """{'fnet': {'layer1.0': 2, ...}, 'cnet': {...}}: how many convolutions each residual block has."""
    counts = {}
    for key in keys:
        network, _, rest = key.partition('.')
        match = _BLOCK_LAYER.match(rest)
        if network in ('fnet', 'cnet') and match and match.group(2) == 'conv':
            blocks = counts.setdefault(network, {})
            blocks[match.group(1)] = max(blocks.get(match.group(1), 0), int(match.group(3)))
    return counts


def to_torchvision_names(state_dict: dict) -> dict:
    """Rename a princeton-vl/RAFT state dict onto torchvision's keys (torchvision-format dicts pass
    through). Returns {torchvision key: (original key, tensor)} so errors can name the original."""
    stripped = {(key[len('module.'):] if key.startswith('module.') else key): key for key in state_dict}
    counts = _block_conv_counts(stripped)
    renamed = {}
    for key, original in stripped.items():
        target = _rename_original_key(key, counts)
        if target is not None:
            renamed[target] = (original, state_dict[original])
    return renamed


def _read_state_dict(path: Path, method_flag: str) -> dict:
    if not path.is_file():
        raise InputError(f'RAFT checkpoint {path} not found; {download_hint(method_flag)}')
    try:
        state_dict = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise InputError(f'RAFT checkpoint {path} cannot be read ({reason}); download it again') from None
    if isinstance(state_dict, dict) and isinstance(state_dict.get('state_dict'), dict):
        state_dict = state_dict['state_dict']
    if not isinstance(state_dict, dict) or not state_dict:
        raise InputError(f'RAFT checkpoint {path} holds no state dict of tensors; {download_hint(method_flag)}')
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise InputError(f'RAFT checkpoint {path}: key {key!r} is not a tensor; '
                             f'pass an original princeton-vl/RAFT checkpoint or a torchvision RAFT state dict')
    return state_dict


@functools.lru_cache(maxsize=None)
def _model_shapes(variant: str) -> dict:
    """{key: shape} of torchvision's model, built on the meta device (no memory, no init cost)."""
    with torch.device('meta'):
        model = BUILDERS[variant]()
    return {key: tuple(tensor.shape) for key, tensor in model.state_dict().items()}


def _match_variant(path: Path, renamed: dict):
    """Pick large or small: the model whose keys and shapes the checkpoint fits exactly."""
    expected = {name: _model_shapes(name) for name in BUILDERS}
    best = max(expected, key=lambda name: sum(key in expected[name] for key in renamed))
    model_keys = expected[best]
    for key, (original, _) in renamed.items():
        if key not in model_keys:
            raise InputError(f'RAFT checkpoint {path}: key {original!r} fits neither RAFT-large nor RAFT-small; '
                             f'pass an original princeton-vl/RAFT checkpoint or a torchvision RAFT state dict')
    for key, target in model_keys.items():
        if key not in renamed:
            raise InputError(f'RAFT checkpoint {path} lacks {key!r} of RAFT-{best}; the file is incomplete, '
                             f'download it again')
        original, tensor = renamed[key]
        if tuple(tensor.shape) != target:
            raise InputError(f'RAFT checkpoint {path}: key {original!r} has shape {tuple(tensor.shape)} but '
                             f'RAFT-{best} expects {target}; the file does not fit this model')
    return best


def check_checkpoint(path, method_flag: str = '--method') -> str:
    """'large' or 'small' when `path` is a usable RAFT checkpoint; else an InputError naming the
    file, and `method_flag` as the way to run without weights."""
    path = Path(path)
    return _match_variant(path, to_torchvision_names(_read_state_dict(path, method_flag)))


def load_raft(path, device=torch.device('cpu')):
    """A torchvision RAFT model (eval mode, float32, on `device`) with the weights of `path`.

    Returns (model, variant) where variant is 'large' or 'small'. Any problem with the file is an
    InputError naming it (missing, unreadable, or a key that fits neither model).
    """
    path = Path(path)
    renamed = to_torchvision_names(_read_state_dict(path, '--method'))
    variant = _match_variant(path, renamed)
    model = BUILDERS[variant]()
    # half-precision checkpoints (the large fixture) are widened exactly to float32
    state = {key: tensor.float() if tensor.is_floating_point() else tensor
             for key, (_, tensor) in renamed.items()}
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), variant
