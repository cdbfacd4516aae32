"""TT-NN data_movement operations (emulated)."""
__all__ = []
