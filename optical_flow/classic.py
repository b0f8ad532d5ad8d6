"""Optical flow without learned weights (OpenCV): DIS, preset medium, and Farneback.

They let the pipeline run on a fresh machine; the paper's numbers were obtained with RAFT.
"""
import threading

import cv2
import numpy as np

# OpenCV's own example values for Farneback (pyramid scale, levels, window, iterations, poly_n, sigma)
FARNEBACK_PARAMS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)

_local = threading.local()


def _dis():
    """One DIS instance per thread (an instance must not run two computations at once)."""
    if not hasattr(_local, 'dis'):
        _local.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return _local.dis


def to_gray(frame_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)


def dis_flow(gray1: np.ndarray, gray2: np.ndarray) -> np.ndarray:
    """DIS flow (preset medium) from gray frame 1 to gray frame 2: H x W x 2 float32 (u, v)."""
    return _dis().calc(gray1, gray2, None)


def farneback_flow(gray1: np.ndarray, gray2: np.ndarray) -> np.ndarray:
    """Farneback flow from gray frame 1 to gray frame 2: H x W x 2 float32 (u, v)."""
    return cv2.calcOpticalFlowFarneback(gray1, gray2, None, **FARNEBACK_PARAMS)


def dis_flow_pair(frame1_bgr: np.ndarray, frame2_bgr: np.ndarray):
    """(forward, backward) DIS flows between two H x W x 3 uint8 BGR frames, as IKE's fwd_of/bwd_of."""
    gray1, gray2 = to_gray(frame1_bgr), to_gray(frame2_bgr)
    return dis_flow(gray1, gray2), dis_flow(gray2, gray1)


class ClassicFlow:
    """DIS or Farneback for the extraction loop: frames are converted to gray once, and every pair
    gives its forward and backward flows."""

    FUNCTIONS = {'dis': dis_flow, 'farneback': farneback_flow}

    def __init__(self, method: str, frame_size):
        self.flow = self.FUNCTIONS[method]
        self.output_size = tuple(frame_size)

    def prepare(self, frames_bgr):
        return [to_gray(frame) for frame in frames_bgr]

    def flow_pairs(self, grays):
        return [(self.flow(a, b), self.flow(b, a)) for a, b in zip(grays[:-1], grays[1:])]
