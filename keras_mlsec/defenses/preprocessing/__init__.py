"""Input-transformation defense layers (with BPDA gradients)."""
