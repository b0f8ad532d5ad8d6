"""IKE network module: a U-Net trained per video on the graph module's soft segmentations."""
