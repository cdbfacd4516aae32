"""The emulated operation library, grouped as TT-NN groups it (one module per group)."""
__all__ = []
