"""Certified defenses: randomized smoothing."""
