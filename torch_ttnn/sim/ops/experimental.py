"""TT-NN experimental operations (emulated)."""
__all__ = []
