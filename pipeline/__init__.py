"""The whole IKE loop: flow, then graph and network cycles, final masks, evaluation and report."""
