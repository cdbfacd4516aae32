"""TT-NN reduction operations (emulated)."""
__all__ = []
