"""The graph stage's outputs: .pt maps at working size and PNGs at the original size, one pair of
folders per saved iteration, and the stage contract (ike_utils.stage) that says when they are current."""
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from graph_module.settings import GraphSettings
from ike_utils.atomic import atomic_dir
from ike_utils.disk import save_tensor
from ike_utils.images import map_to_uint8, resize_map, write_image
from ike_utils.stage import Stage, require_finite, run_stage


def iteration_dirs(out_path, iteration: int):
    out_path = Path(out_path)
    return out_path / f'iter_{iteration}', out_path / f'iter_{iteration}_images'


def save_iteration(out_path, iteration: int, maps: torch.Tensor, original_size):
    """Write maps (n x H x W) as iter_K/%05d.pt (H x W x 1 float32) and iter_K_images/%05d.png.

    Each folder appears only once complete (temporary folder, then rename)."""
    pt_dir, png_dir = iteration_dirs(out_path, iteration)
    maps = maps.detach().float().cpu()
    require_finite(maps, f'graph iteration {iteration}',
                   'check [Graph Module] lambda and sigma (too large or too small a value overflows)')
    with atomic_dir(pt_dir) as tmp:
        for index, soft_map in enumerate(maps):
            save_tensor(soft_map[:, :, None].clone(), tmp / ('%05d.pt' % index))
    height, width = original_size
    with atomic_dir(png_dir) as tmp, ThreadPoolExecutor(2) as pool:
        def write_png(index):  # resized in the writing thread: 900 frames' images at once are 0.4 GB
            write_image(tmp / ('%05d.png' % index), map_to_uint8(resize_map(maps[index], height, width)))
        list(pool.map(write_png, range(len(maps))))


def iteration_complete(out_path, iteration: int, n_frames: int) -> bool:
    """Whether both folders of an iteration exist with one file per frame."""
    pt_dir, png_dir = iteration_dirs(out_path, iteration)
    return (pt_dir.is_dir() and png_dir.is_dir() and len(list(pt_dir.glob('*.pt'))) == n_frames
            and len(list(png_dir.glob('*.png'))) == n_frames)


def graph_stage(frames, of_path, out_path, settings: GraphSettings) -> Stage:
    """The graph stage's contract: frames, flows and network cues in, the saved iterations out."""
    from optical_flow.extract import flow_folders
    outputs = tuple(name for k in settings.to_save_iterations for name in (f'iter_{k}', f'iter_{k}_images'))
    inputs = {'frames': list(frames), 'flow': list(flow_folders(of_path)),
              'features': [Path(p) for p in settings.features_paths]}
    return Stage('graph', Path(out_path), inputs, settings.recorded_values(), outputs, content_inputs=('frames',))


def run_graph_stage(frames_path, of_path, out_path, settings: GraphSettings, device, quiet=False,
                    before_redo=None, force=False):
    """Run the graph module unless its outputs are current (ike_utils.stage); returns
    (ran, (.pt folder, PNG folder) of the last saved iteration)."""
    from graph_module.inputs import check_flow_folder
    from graph_module.run import run_graph_module
    from ike_utils.frames import list_frames
    from optical_flow.extract import flow_folders
    frames = list_frames(frames_path, min_count=2)
    stage = graph_stage(frames, of_path, out_path, settings)

    def check_flows():  # before anything is written
        for folder in flow_folders(of_path):
            check_flow_folder(folder, len(frames))

    def work(resume):
        run_graph_module(frames_path, of_path, out_path, settings, device, quiet=quiet)

    ran = run_stage(stage, work, prepare=check_flows, before_redo=before_redo, force=force)
    return ran, iteration_dirs(out_path, settings.to_save_iterations[-1])
