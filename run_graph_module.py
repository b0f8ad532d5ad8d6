"""IKE graph module: segment the main object of a video with a space-time graph along optical flow.

    python run_graph_module.py --frames_path F --of_path O --out_path OUT --config ./config.ini [--overwrite]

A rerun with the same frames, flows, cues and settings is skipped (OUT/stage.json says what made the
outputs); --overwrite runs it again anyway.
"""
from ike_utils.cli import ArgumentParser, add_common_args, run_cli, use_cpu_threads  # first: threads before torch
from graph_module.outputs import run_graph_stage  # noqa: I100 (after ike_utils.cli, which must load first)
from graph_module.settings import GraphSettings
from ike_utils.config import load_config
from ike_utils.device import resolve_device
from ike_utils.repo import DEFAULT_CONFIG


def main(args):
    use_cpu_threads(args)
    settings = GraphSettings.from_config(load_config(args.config))
    ran, (last, _) = run_graph_stage(args.frames_path, args.of_path, args.out_path, settings,
                                     resolve_device(args.device), quiet=args.quiet, force=args.overwrite)
    print(f'graph: soft maps {"in" if ran else "already in (same inputs and settings)"} {last} (.pt) and '
          f'{last}_images (.png)')


if __name__ == '__main__':
    parser = ArgumentParser(description=__doc__)
    parser.add_argument('--frames_path', required=True, help='folder of video frames (natural order: 1, 2, ..., 10)')
    parser.add_argument('--of_path', required=True, help='folder holding fwd_of/ and bwd_of/ .flo files')
    parser.add_argument('--out_path', required=True, help='where iter_K/ and iter_K_images/ are written')
    parser.add_argument('--config', '--config_file', dest='config', default=str(DEFAULT_CONFIG),
                        help='settings file (default: config.ini of the repository, the paper\'s settings)')
    parser.add_argument('--overwrite', action='store_true', help='run again even if OUT holds current results')
    add_common_args(parser)
    run_cli(main, parser.parse_args())
