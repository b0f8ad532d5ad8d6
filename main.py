"""IKE network module: train a U-Net from scratch on one video, with the graph module's soft masks as
pseudo ground truth, and write its predictions (the next graph cycle's node features).

    python main.py --frames_path F --pseudo_gt_path GRAPH/iter_19 --out_path O --config ./config.ini
"""
from ike_utils.cli import ArgumentParser, add_common_args, run_cli, use_cpu_threads  # first: threads before torch
from ike_utils.config import load_config
from ike_utils.repo import DEFAULT_CONFIG
from ike_utils.device import resolve_device
from network_module.settings import NetworkSettings
from network_module.train import DEFAULT_SEED, run_network


def main(args):
    use_cpu_threads(args)
    settings = NetworkSettings.from_config(load_config(args.config))
    trained = []  # before_redo runs only when the stage is not skipped
    folders = run_network(args.frames_path, args.pseudo_gt_path, args.out_path, settings,
                          resolve_device(args.device), seed=args.seed, quiet=args.quiet,
                          skip_if_done=not args.overwrite, before_redo=lambda: trained.append(True))
    print(f'network: predictions {"in" if trained else "already in (same inputs and settings)"} {folders[-1]}')


if __name__ == '__main__':
    parser = ArgumentParser(description=__doc__)
    parser.add_argument('--frames_path', required=True, help='folder of the video frames (natural order: 1, 2, ..., 10)')
    parser.add_argument('--pseudo_gt_path', required=True,
                        help='folder of the pseudo labels %%05d.pt (H x W x 1), e.g. graph_out/iter_19')
    parser.add_argument('--out_path', required=True, help='output folder (models/, results_pt/, results_images/)')
    parser.add_argument('--config', '--config_file', dest='config', default=str(DEFAULT_CONFIG),
                        help='settings file (default: config.ini of the repository, the paper\'s settings)')
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED,
                        help=f'initial weights and batch order; a CPU run with the same --threads repeats exactly '
                        f'(default: {DEFAULT_SEED})')
    parser.add_argument('--overwrite', action='store_true',
                        help='train again even if out_path holds a finished run with the same inputs and settings')
    add_common_args(parser)
    run_cli(main, parser.parse_args())
