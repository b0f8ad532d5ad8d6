"""The benchmarks IKE is evaluated on, one module each: where a release keeps its videos and ground
truth, which frames are scored, and the paper's table. `open_benchmark(name, root)` gives one."""
from evaluation.datasets.davis2016 import Davis2016
from evaluation.datasets.segtrackv2 import SegTrackV2
from evaluation.datasets.youtube_objects import YouTubeObjects
from evaluation.datasets.youtube_objects_v22 import YouTubeObjectsV22

BENCHMARKS = {benchmark.key: benchmark for benchmark in (Davis2016, SegTrackV2, YouTubeObjects, YouTubeObjectsV22)}
DEFAULT_BENCHMARK = Davis2016.key


def open_benchmark(name: str, root):
    """The benchmark `name` (a key of BENCHMARKS) whose release is at `root`; its layout is checked."""
    return BENCHMARKS[name](root)
