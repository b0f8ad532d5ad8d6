"""Faithfulness on the reference's own outputs (CI): ../shared/fixtures/graph_reference holds 36 frames
of DAVIS car-shadow, their DIS flows, and what the unchanged reference graph module wrote for
config_a.ini (paper defaults at 36x64, random seed) and config_b.ini (Gaussian seed, two feature
folders given relative to the fixture folder). Every saved .pt must be within 1e-4 (max abs) and
every PNG within 1 grey level of the reference's."""
import cv2
import numpy as np
import pytest
import torch

from conftest import FIXTURES, shared_missing
from graph_module.run import run_graph_module
from graph_module.settings import GraphSettings
from ike_utils.config import load_config

GRAPH_FIXTURES = FIXTURES / 'graph_reference'
pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.fixture(scope='module')
def fixtures():
    shared_missing(GRAPH_FIXTURES, 'graph-module reference fixtures')
    return GRAPH_FIXTURES


def compare_outputs(ours, reference):
    """Same folders and files as the reference; .pt within 1e-4, PNG within 1 grey level."""
    expected_folders = sorted(p.name for p in reference.iterdir() if p.is_dir())
    assert sorted(p.name for p in ours.iterdir()) == expected_folders
    n_compared = 0
    for folder in expected_folders:
        files = sorted(p.name for p in (reference / folder).iterdir())
        assert files, f'reference folder {folder} is empty'
        assert sorted(p.name for p in (ours / folder).iterdir()) == files, folder
        for name in files:
            if name.endswith('.pt'):
                expected = torch.load(reference / folder / name, map_location='cpu', weights_only=True)
                got = torch.load(ours / folder / name, map_location='cpu', weights_only=True)
                assert got.dtype == torch.float32 and got.shape == expected.shape, f'{folder}/{name}'
                difference = float((got - expected.float()).abs().max())
                assert difference <= 1e-4, f'{folder}/{name}: max abs difference {difference}'
            else:
                expected = cv2.imread(str(reference / folder / name), cv2.IMREAD_UNCHANGED)
                got = cv2.imread(str(ours / folder / name), cv2.IMREAD_UNCHANGED)
                assert got is not None and got.shape == expected.shape, f'{folder}/{name}'
                difference = int(np.abs(got.astype(np.int16) - expected.astype(np.int16)).max())
                assert difference <= 1, f'{folder}/{name}: {difference} grey levels apart'
            n_compared += 1
    return n_compared


def test_config_a_matches_reference(fixtures, tmp_path):
    settings = GraphSettings.from_config(load_config(fixtures / 'config_a.ini'))
    assert settings.features_paths == ()
    run_graph_module(fixtures / 'frames', fixtures / 'flow', tmp_path / 'out', settings, torch.device('cpu'),
                     quiet=True)
    assert compare_outputs(tmp_path / 'out', fixtures / 'out_a') == 8 * 36


def test_config_b_matches_reference(fixtures, tmp_path, monkeypatch):
    """ike_features_paths in config_b.ini are relative to the fixture folder, as when the reference ran."""
    monkeypatch.chdir(fixtures)
    settings = GraphSettings.from_config(load_config('config_b.ini'))
    assert settings.features_paths == ('out_a/iter_19', 'out_a/iter_0')
    assert settings.seed_type == 2 and settings.cue_half_chain == 1
    run_graph_module('frames', 'flow', tmp_path / 'out', settings, torch.device('cpu'), quiet=True)
    assert compare_outputs(tmp_path / 'out', fixtures / 'out_b') == 4 * 36


def test_config_b_with_absolute_feature_paths(fixtures, tmp_path):
    """The same run with the folders passed as absolute features_paths (how the cycle driver calls it)."""
    folders = (fixtures / 'out_a' / 'iter_19', fixtures / 'out_a' / 'iter_0')
    settings = GraphSettings.from_config(load_config(fixtures / 'config_b.ini'), features_paths=folders)
    assert settings.features_paths == folders
    run_graph_module(fixtures / 'frames', fixtures / 'flow', tmp_path / 'out', settings, torch.device('cpu'),
                     quiet=True)
    assert compare_outputs(tmp_path / 'out', fixtures / 'out_b') == 4 * 36
