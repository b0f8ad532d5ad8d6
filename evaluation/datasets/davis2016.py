"""DAVIS-2016 (Perazzi et al., CVPR 2016): JPEGImages/480p/<video>/00000.jpg, ... and
Annotations/480p/<video>/00000.png, ...; J and F as in evaluation/davis.py (first and last frames
not scored). The paper's table: J and F mean, recall and decay, averaged over the videos."""
from pathlib import Path

from evaluation.datasets.base import Benchmark, require_folder, select, video_folders
from evaluation.davis import annotation_files, evaluate_sequence
from evaluation.scores import SequenceScores, dataset_means
from ike_utils.frames import list_frames

FRAMES_SUBDIR = Path('JPEGImages') / '480p'
ANNOTATIONS_SUBDIR = Path('Annotations') / '480p'
LAYOUT = 'DAVIS-layout root (JPEGImages/480p/<video>/00000.jpg, ...)'


class Davis2016(Benchmark):
    key = 'davis2016'
    title = 'DAVIS-2016'
    record_type = SequenceScores

    def __init__(self, root):
        super().__init__(root)
        require_folder(self.root, FRAMES_SUBDIR, LAYOUT)

    def sequences(self, names=None) -> list:
        folder = self.root / FRAMES_SUBDIR
        return select(video_folders(folder, 'DAVIS-layout root'), names, folder)

    def annotation_dir(self, sequence) -> Path:
        return self.root / ANNOTATIONS_SUBDIR / sequence.name

    def has_ground_truth(self, sequence) -> bool:
        return self.annotation_dir(sequence).is_dir()

    def check_ground_truth(self, sequence) -> None:
        """An InputError, before any work, when the video's annotations do not fit its frames."""
        annotation_files(self.annotation_dir(sequence), list_frames(sequence.frames_dir))

    def score(self, sequence, result_dir, threshold: float = 0.5, naming: str = 'index') -> SequenceScores:
        """J and F; results match annotations by name, which on DAVIS is both the frame's name and
        its position (00000.png), so `naming` changes nothing here."""
        return evaluate_sequence(result_dir, self.annotation_dir(sequence), threshold, name=sequence.name)

    @staticmethod
    def paper_table(scores_by_stage):
        """One row per stage: J&F mean, then J and F mean, recall and decay (means over videos)."""
        header = ['stage', 'J&F mean', 'J mean', 'J recall', 'J decay', 'F mean', 'F recall', 'F decay']
        rows = []
        for stage, records in scores_by_stage.items():
            means = dataset_means(records)
            rows.append([stage, (means['J_mean'] + means['F_mean']) / 2, means['J_mean'], means['J_recall'],
                         means['J_decay'], means['F_mean'], means['F_recall'], means['F_decay']])
        return header, rows
