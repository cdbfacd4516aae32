"""TT-NN conv operations (emulated)."""
__all__ = []
