"""The configs we ship load, and differ from the paper's only where they say they do."""
from dataclasses import asdict
from pathlib import Path

import pytest

from graph_module.settings import GraphSettings
from ike_utils.config import load_config
from network_module.settings import NetworkSettings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize('name', ['config.ini', 'configs/cpu.ini', 'configs/demo.ini'])
def test_shipped_configs_load(name):
    config = load_config(ROOT / name)
    assert GraphSettings.from_config(config).n_iterations == 20
    assert NetworkSettings.from_config(config).n_epochs == 5


def test_cpu_config_changes_only_the_network_width_and_arithmetic():
    paper, cpu = load_config(ROOT / 'config.ini'), load_config(ROOT / 'configs/cpu.ini')
    assert GraphSettings.from_config(cpu) == GraphSettings.from_config(paper)
    paper_net, cpu_net = asdict(NetworkSettings.from_config(paper)), asdict(NetworkSettings.from_config(cpu))
    changed = {key: cpu_net[key] for key in paper_net if paper_net[key] != cpu_net[key]}
    assert changed == {'base_channels': 16, 'precision': 'auto', 'channels_last': True}
    assert (paper_net['base_channels'], paper_net['precision'], paper_net['channels_last']) == (64, 'fp32', False)
