"""Scripts that port original checkpoints to hf_videomodels (see README.md, "Conversion")."""
