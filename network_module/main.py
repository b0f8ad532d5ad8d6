"""Command line of the network module: train on one video's pseudo labels, write predictions.

    python network_module/main.py --frames_path F --pseudo_gt_path P --out_path O --config ./config.ini
"""
import argparse
import sys
from pathlib import Path

if __package__ in (None, ''):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ike_utils.cli import add_common_args, run_cli  # noqa: E402
from ike_utils.config import load_config  # noqa: E402
from ike_utils.device import resolve_device  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='IKE network module: train a U-Net on the graph module\'s '
                                                 'soft masks of one video and write its predictions.')
    parser.add_argument('--frames_path', required=True, help='folder of the video frames (00000.jpg, ...)')
    parser.add_argument('--pseudo_gt_path', required=True,
                        help='folder of the pseudo labels %%05d.pt (H x W x 1), e.g. graph_out/iter_19')
    parser.add_argument('--out_path', required=True, help='output folder (models/, results_pt/, results_images/)')
    parser.add_argument('--config', '--config_file', dest='config', default='./config.ini',
                        help='config file (default: ./config.ini)')
    parser.add_argument('--seed', type=int, default=None, help='make a CPU run repeatable')
    parser.add_argument('--overwrite', action='store_true',
                        help='train again even if out_path holds a finished run with the same inputs and settings')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from network_module.settings import NetworkSettings
    from network_module.train import run_network
    settings = NetworkSettings.from_config(load_config(args.config))
    folders = run_network(args.frames_path, args.pseudo_gt_path, args.out_path, settings,
                          resolve_device(args.device), seed=args.seed, quiet=args.quiet,
                          skip_if_done=not args.overwrite)
    if not args.quiet:
        print(f'network: predictions in {folders[-1]}')


if __name__ == '__main__':
    run_cli(main)
