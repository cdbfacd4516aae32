"""The lowering registry shared by the compiler and the eager device (see registry.py)."""
from .registry import Rule, find, lowering, registered  # noqa: F401
