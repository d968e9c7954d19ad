"""Detectors of adversarial, poisoned or extracting inputs, and the adaptive attacks on them."""
