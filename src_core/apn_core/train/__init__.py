"""Training of the Adversarial PoseNet: cached data, augmentation, checkpoints, the loop."""
