"""What the compiler and the eager device share: the lowering registry (registry.py; importing the package
registers every rule in lowering/rules), the dtype and compute policies (policy.py) and the op facts
(facts.py)."""
from . import registry as _registry
from .registry import Lookup, Refusal, Rule, find, lookup, lowering, registered  # noqa: F401
from . import facts, policy  # noqa: F401,E402

_registry._loading_builtin = True       # rules registered now are the built-in ones (registry.lowering)
try:
    from . import rules  # noqa: F401,E402
finally:
    _registry._loading_builtin = False
