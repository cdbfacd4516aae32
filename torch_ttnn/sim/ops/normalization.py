"""TT-NN normalization operations (emulated)."""
__all__ = []
