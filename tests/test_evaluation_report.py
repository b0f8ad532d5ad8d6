"""The report pieces on small synthetic inputs: table numbers, plot and contact-sheet files and sizes."""
import cv2
import numpy as np
import pytest

from evaluation.report import contact_sheet, markdown_tables, plot_scores_by_cycle, write_contact_sheet, write_report
from evaluation.scores import SequenceScores
from ike_utils.errors import InputError


def record(name, j_mean, f_mean, frames=4):
    return SequenceScores(name=name, frames=[f'{i:05d}' for i in range(1, frames + 1)],
                          j_per_frame=[j_mean] * frames, f_per_frame=[f_mean] * frames,
                          J_mean=j_mean, J_recall=float(j_mean > 0.5), J_decay=0.1,
                          F_mean=f_mean, F_recall=float(f_mean > 0.5), F_decay=-0.2)


@pytest.fixture
def scores_by_cycle():
    return {'cycle 1': [record('alpha', 0.4, 0.3), record('beta', 0.8, 0.7, frames=6)],
            'cycle 2': [record('alpha', 0.6, 0.5), record('beta', 0.9, 0.8, frames=6)]}


def table_rows(markdown, heading):
    """The rows (lists of cells) of the table under `### heading`."""
    block = markdown.split(f'### {heading}\n\n', 1)[1].split('\n\n', 1)[0]
    return [[cell.strip() for cell in line.strip('|').split('|')] for line in block.splitlines()[2:]]


def test_markdown_tables_numbers(scores_by_cycle):
    markdown = markdown_tables(scores_by_cycle)
    assert table_rows(markdown, 'J mean per cycle') == [['alpha', '0.400', '0.600'], ['beta', '0.800', '0.900'],
                                                         ['**mean**', '**0.600**', '**0.750**']]
    assert table_rows(markdown, 'F mean per cycle')[-1] == ['**mean**', '**0.500**', '**0.650**']
    cycle_2 = table_rows(markdown, 'cycle 2')
    assert cycle_2[0] == ['alpha', '4', '0.600', '1.000', '0.100', '0.500', '0.000', '-0.200']
    assert cycle_2[-1] == ['**mean**', '10', '**0.750**', '**1.000**', '**0.100**', '**0.650**', '**0.500**',
                           '**-0.200**']


def test_markdown_marks_a_sequence_missing_from_a_cycle(scores_by_cycle):
    scores_by_cycle['cycle 3'] = [record('beta', 0.95, 0.9, frames=6)]
    rows = table_rows(markdown_tables(scores_by_cycle), 'J mean per cycle')
    assert rows[0] == ['alpha', '0.400', '0.600', '–'] and rows[2][-1] == '**0.950**'


def test_plot_is_a_png_of_the_figure_size(scores_by_cycle, tmp_path):
    path = tmp_path / 'plot.png'
    plot_scores_by_cycle(scores_by_cycle, path)
    image = cv2.imread(str(path))
    assert image.shape == (420, 1250, 3)
    assert image.std() > 10                       # something was drawn
    plot_scores_by_cycle(scores_by_cycle, tmp_path / 'j.png', measures=('J',))
    assert cv2.imread(str(tmp_path / 'j.png')).shape == (420, 700, 3)


@pytest.fixture
def video(tmp_path):
    """7 frames 60x80, uniform grey 30*i; masks: a 20x20 square at the bottom right."""
    frames, masks = tmp_path / 'frames', tmp_path / 'masks'
    frames.mkdir(), masks.mkdir()
    mask = np.zeros((60, 80), np.uint8)
    mask[35:55, 55:75] = 255
    for i in range(7):
        cv2.imwrite(str(frames / f'{i:05d}.png'), np.full((60, 80, 3), 30 * i, np.uint8))
        cv2.imwrite(str(masks / f'{i:05d}.png'), mask)
    return frames, masks


def test_contact_sheet_grid_of_evenly_spaced_frames(video):
    frames, masks = video
    files = sorted(frames.iterdir())
    sheet = contact_sheet(files, sorted(masks.iterdir()), tiles=4, columns=3, tile_width=40, gap=4)
    assert sheet.shape == (2 * 30 + 4, 3 * 40 + 2 * 4, 3)
    picked = []
    for position in range(4):
        row, column = divmod(position, 3)
        top, left = row * 34, column * 44
        tile = sheet[top:top + 30, left:left + 40].astype(int)
        picked.append(tile[27, 5, 1] // 30)               # plain frame pixel (no mask, below the label)
        masked = tile[22, 32]                             # inside the scaled-down square: tinted red
        assert masked[2] > masked[1] + 40 and masked[2] > masked[0] + 40
    assert picked == [0, 2, 4, 6]                          # round(linspace(0, 6, 4))
    assert (sheet[30:34] == 32).all()                      # the gap between rows


def test_contact_sheet_tiles_are_labelled(video):
    frames, masks = video
    cv2.imwrite(str(frames / '00000.png'), np.full((60, 80, 3), 128, np.uint8))  # mid grey: neither text colour
    files, mask_files = sorted(frames.iterdir()), sorted(masks.iterdir())
    sheet = contact_sheet(files, mask_files, tiles=1, columns=1, tile_width=320)
    assert sheet.shape == (240, 320, 3)
    label_area = sheet[:30, :120]
    assert (label_area == 255).all(axis=2).any()  # white text
    assert (sheet[:6, :40] < 50).all()  # on a box darkened to a third (readable on light tiles)
    assert (sheet[100:130, :120] == 128).all()  # below the label: the frame itself


def test_write_contact_sheet_and_missing_mask(video, tmp_path):
    frames, masks = video
    out = tmp_path / 'sheet.jpg'
    write_contact_sheet(frames, masks, out, tiles=12, columns=4, tile_width=80)
    assert cv2.imread(str(out)).shape == (2 * 60 + 4, 4 * 80 + 3 * 4, 3)   # 7 frames: 4 + 3 tiles
    (masks / '00003.png').unlink()
    with pytest.raises(InputError, match='00003.png'):
        write_contact_sheet(frames, masks, tmp_path / 'other.jpg')


def test_write_report_folder(scores_by_cycle, video, tmp_path):
    frames, masks = video
    path = write_report(tmp_path / 'report', scores_by_cycle, {'clip': (frames, masks, None)})
    text = path.read_text()
    assert '![J and F mean per cycle](scores_by_cycle.png)' in text and 'contact_sheets/clip.jpg' in text
    assert '| **mean** | **0.600** | **0.750** |' in text
    assert (tmp_path / 'report' / 'scores_by_cycle.png').is_file()
    assert cv2.imread(str(tmp_path / 'report' / 'contact_sheets' / 'clip.jpg')) is not None
