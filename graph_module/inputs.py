"""Reading what the graph needs from disk: optical flows and network cues, validated."""
from pathlib import Path

import torch
import torch.nn.functional as F

from ike_utils.errors import InputError
from ike_utils.flow_io import check_flo, flow_file_name, read_flo


def resize_flow(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """h x w x 2 flow -> height x width x 2: bilinear (align_corners=False), vectors rescaled.

    The reference resizes whatever size the flow has (RAFT's padded flows included) this way."""
    flow_h, flow_w = flow.shape[:2]
    resized = F.interpolate(flow.permute(2, 0, 1)[None], size=(height, width), mode='bilinear',
                            align_corners=False)[0].permute(1, 2, 0)
    u = resized[..., 0] * (width / flow_w)
    v = resized[..., 1] * (height / flow_h)
    return torch.stack((u, v), dim=-1)


def check_flow_folder(flow_folder, n_frames: int):
    """An InputError unless `flow_folder` holds exactly the n-1 .flo files of an n-frame video."""
    flow_folder = Path(flow_folder)
    if not flow_folder.is_dir():
        raise InputError(f'flow folder {flow_folder} does not exist; run extract_optical_flow.py '
                         f'--frames_path <frames> --out_path {flow_folder.parent}')
    size = None
    for index in range(n_frames - 1):
        path = flow_folder / flow_file_name(index)
        if not path.is_file():
            raise InputError(f'flow file {path} is missing ({n_frames} frames need {n_frames - 1} flows); '
                             f'extract the flow of these frames again')
        height, width = check_flo(path)
        if size is not None and (height, width) != size:
            raise InputError(f'flow file {path} is {width}x{height} but {flow_folder / flow_file_name(0)} is '
                             f'{size[1]}x{size[0]}; all flows of a video have one size: extract them again')
        size = (height, width)
    found = len([p for p in flow_folder.glob('*.flo') if not p.name.startswith('.')])  # temporaries do not count
    if found != n_frames - 1:
        raise InputError(f'flow folder {flow_folder} holds {found} .flo files but the video has '
                         f'{n_frames} frames (expected {n_frames - 1}); extract the flow of these frames again')


def load_flows(flow_folder, n_frames: int, height: int, width: int, device) -> torch.Tensor:
    """The n-1 flows of `flow_folder` (fwd_of or bwd_of) resized to the working size: (n-1) x H x W x 2."""
    flow_folder = Path(flow_folder)
    flows = torch.empty(n_frames - 1, height, width, 2, dtype=torch.float32, device=device)
    for index in range(n_frames - 1):
        path = flow_folder / flow_file_name(index)
        flow = torch.from_numpy(read_flo(path))
        if not torch.isfinite(flow).all():
            raise InputError(f'flow file {path} contains NaN or infinite values; extract the flow again')
        flows[index] = resize_flow(flow, height, width).to(device)
    return flows


def load_cues(features_paths, n_frames: int, height: int, width: int, device) -> torch.Tensor:
    """Network cues for every frame, folders concatenated along channels: n x C x H x W float32.

    Each folder holds %05d.pt tensors of shape H x W x C (working size), one per frame."""
    per_folder = []
    for folder in map(Path, features_paths):
        if not folder.is_dir():
            raise InputError(f'feature folder {folder} (ike_features_paths) does not exist; '
                             f'point it at a network result folder such as results_pt/epoch_00005')
        count = len(list(folder.glob('*.pt')))
        if count != n_frames:
            raise InputError(f'feature folder {folder} holds {count} .pt files but the video has {n_frames} '
                             f'frames; it must hold one %05d.pt per frame of this video')
        channels = None
        maps = []
        for index in range(n_frames):
            path = folder / ('%05d.pt' % index)
            try:
                tensor = torch.load(path, map_location='cpu', weights_only=True)
            except FileNotFoundError:
                raise InputError(f'feature file {path} is missing; the folder must hold 00000.pt .. '
                                 f'{n_frames - 1:05d}.pt') from None
            except Exception as error:
                raise InputError(f'feature file {path} cannot be loaded ({type(error).__name__}); '
                                 f'write it with torch.save') from None
            if (not isinstance(tensor, torch.Tensor) or tensor.dim() != 3
                    or tuple(tensor.shape[:2]) != (height, width)
                    or (channels is not None and tensor.shape[2] != channels)):
                shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
                expected = f'{height} x {width} x {channels or "C"}'
                raise InputError(f'feature file {path} has shape {shape}, expected {expected} '
                                 f'(the working size of the config)')
            if not torch.isfinite(tensor).all():
                raise InputError(f'feature file {path} contains NaN or infinite values; '
                                 f'recompute the network outputs')
            channels = tensor.shape[2]
            maps.append(tensor.float().permute(2, 0, 1))
        per_folder.append(torch.stack(maps))
    return torch.cat(per_folder, dim=1).to(device)
