"""TT-NN creation operations (emulated)."""
__all__ = []
