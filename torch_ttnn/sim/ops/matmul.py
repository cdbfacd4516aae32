"""TT-NN matmul operations (emulated)."""
__all__ = []
