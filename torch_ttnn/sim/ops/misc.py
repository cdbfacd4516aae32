"""TT-NN misc operations (emulated)."""
__all__ = []
