"""The space-time graph of IKE: one node per pixel, edges along optical-flow chains, and the
principal eigenvector (by power iteration interleaved with ridge regression) as a soft segmentation."""
