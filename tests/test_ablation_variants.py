"""Every variant of the IKE+ ablation (benchmarks/ablation_ike_plus.py) is a valid config that changes
only the keys it names."""
import configparser
import sys
from pathlib import Path

import pytest

from graph_module.settings import GraphSettings
from ike_utils.config import load_config
from network_module.settings import NetworkSettings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'benchmarks'))
from ablation_ike_plus import VARIANTS, write_config  # noqa: E402


def values(path):
    parser = configparser.ConfigParser(inline_comment_prefixes=(';', '#'))
    parser.read(path)
    return {(section, key): value for section in parser.sections() for key, value in parser.items(section)}


@pytest.mark.parametrize('name', list(VARIANTS))
def test_variant_is_a_valid_config_that_changes_only_its_keys(tmp_path, name):
    base, changes = VARIANTS[name]
    path = write_config(base, changes, tmp_path / 'config.ini')
    config = load_config(path)  # unknown keys and sections are errors
    GraphSettings.from_config(config)
    NetworkSettings.from_config(config)
    before, after = values(ROOT / 'configs' / base), values(path)
    changed = {key for key in after if before.get(key) != after[key]}
    assert changed == {(section, key) for section, keys in changes.items() for key, value in keys.items()
                       if before.get((section, key)) != value}
    assert set(after) >= set(before)


def test_variant_names_can_be_given_to_variants():
    """--variants is comma-separated: a name with a comma could never be chosen."""
    assert all(',' not in name for name in VARIANTS)
