"""DAVIS-2016 evaluation (J and F: mean, recall, decay) and the reproduction report pieces."""
