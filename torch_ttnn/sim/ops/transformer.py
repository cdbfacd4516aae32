"""TT-NN transformer operations (emulated)."""
__all__ = []
