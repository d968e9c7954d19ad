"""Privacy attacks: membership inference and model inversion."""
