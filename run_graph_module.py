"""IKE graph module: segment the main object of a video with a space-time graph along optical flow.

    python run_graph_module.py --frames_path F --of_path O --out_path OUT --config ./config.ini
"""
import argparse

from ike_utils.cli import add_common_args, run_cli, use_cpu_threads  # first: sets up threads before torch
from graph_module.run import run_graph_module  # noqa: I100 (after ike_utils.cli, which must load first)
from graph_module.settings import GraphSettings
from ike_utils.config import load_config
from ike_utils.device import resolve_device
from ike_utils.repo import DEFAULT_CONFIG


def main(args):
    use_cpu_threads(args)
    settings = GraphSettings.from_config(load_config(args.config))
    run_graph_module(args.frames_path, args.of_path, args.out_path, settings,
                     resolve_device(args.device), quiet=args.quiet)
    last = max(settings.to_save_iterations, default=settings.n_iterations - 1)
    print(f'graph: soft maps in {args.out_path}/iter_{last} (.pt) and {args.out_path}/iter_{last}_images (.png)')


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames_path', required=True, help='folder of video frames (sorted by name)')
    parser.add_argument('--of_path', required=True, help='folder holding fwd_of/ and bwd_of/ .flo files')
    parser.add_argument('--out_path', required=True, help='where iter_K/ and iter_K_images/ are written')
    parser.add_argument('--config', '--config_file', dest='config', default=str(DEFAULT_CONFIG),
                        help='settings file (default: config.ini of the repository, the paper\'s settings)')
    add_common_args(parser)
    run_cli(main, parser.parse_args())
