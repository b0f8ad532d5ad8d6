"""Optical flow for IKE: RAFT (torchvision, original checkpoints), DIS and Farneback (OpenCV)."""
