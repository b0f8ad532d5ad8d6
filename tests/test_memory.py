"""Memory hints: huge pages are asked for only where they can apply, and change no data."""
from pathlib import Path

import pytest
import torch

from ike_utils.memory import advise_huge_pages

THP = Path('/sys/kernel/mm/transparent_hugepage/enabled')


def test_tensors_without_a_whole_aligned_2mb_page_are_left_alone():
    assert advise_huge_pages(torch.zeros(1000)) is False  # no whole 2 MB page inside
    assert advise_huge_pages(torch.zeros(2 << 20, dtype=torch.uint8)[1:]) is False  # 2 MB, unaligned


@pytest.mark.skipif(not THP.exists() or '[never]' in THP.read_text(), reason='no transparent huge pages here')
def test_large_tensor_is_advised_and_keeps_its_values():
    values = torch.arange(4 << 20, dtype=torch.float32)  # 16 MB
    assert advise_huge_pages(values) is True
    assert torch.equal(values, torch.arange(4 << 20, dtype=torch.float32))
