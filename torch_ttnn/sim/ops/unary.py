"""TT-NN unary operations (emulated)."""
__all__ = []
