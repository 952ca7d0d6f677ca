"""gankit: a PyTorch toolkit for Generative Adversarial Networks."""
