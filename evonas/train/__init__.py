"""Training for real: augmentation, the loop, checkpoints, model files, export, and the stage over Ray."""
