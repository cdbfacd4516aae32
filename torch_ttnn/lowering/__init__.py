"""The lowering registry shared by the compiler and the eager device (see registry.py); importing the
package registers every rule (lowering/rules)."""
from .registry import Rule, find, lowering, registered  # noqa: F401
from . import policy, rules  # noqa: F401,E402
