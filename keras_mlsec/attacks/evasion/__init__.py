"""Evasion attacks: inputs perturbed at inference time to fool a classifier."""
