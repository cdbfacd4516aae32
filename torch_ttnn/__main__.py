"""`python -m torch_ttnn <command>`: the same as the `torch-ttnn` console script."""
import sys

from .cli import main

sys.exit(main())
