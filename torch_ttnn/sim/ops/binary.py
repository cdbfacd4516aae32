"""TT-NN binary operations (emulated)."""
__all__ = []
