"""TT-NN pool operations (emulated)."""
__all__ = []
