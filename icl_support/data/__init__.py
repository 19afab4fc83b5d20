"""Layer 1, images: datasets (``datasets``: a new dataset goes here), generated shapes, corruptions, loading
images as tensors (``images``) and their augmentation (``augment``)."""
