"""`python -m torch_ttnn.cli <command>`: the same as `python -m torch_ttnn` and the `torch-ttnn` console script."""
import sys

from . import main

sys.exit(main())
