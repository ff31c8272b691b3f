"""Training of the Adversarial PoseNet: cached data, augmentation, the loop, fine-tuning."""
