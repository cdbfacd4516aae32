"""What the compiler and the eager device share: the lowering registry (registry.py; importing the package
registers every rule in lowering/rules), the dtype and compute policies (policy.py) and the op facts
(facts.py)."""
from .registry import Rule, find, lowering, registered  # noqa: F401
from . import facts, policy, rules  # noqa: F401,E402
