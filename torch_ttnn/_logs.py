"""torch-ttnn in PyTorch's logging system (TORCH_LOGS).

`TORCH_LOGS="torch_ttnn"` (INFO) or `"+torch_ttnn"` (DEBUG) sets the level of our logger `torch_ttnn` and
gives it torch's handler, in any import order (torch accepts module names). The `ttnn` artifact
(`TORCH_LOGS="ttnn"`, off unless named) logs, per compiled graph, its ops on device and on CPU with the reason
for each fallback and the lowered TT-NN program as code. torch validates TORCH_LOGS when torch itself is
imported, so an artifact name it does not know yet makes `import torch` fail: the artifact is registered by an
import hook as soon as torch's own registrations load when torch_ttnn is imported first (or under `python -m
torch_ttnn`); with torch imported first, use TORCH_LOGS="torch_ttnn" (our logger carries the same messages at
INFO, the program code at DEBUG).
"""
from __future__ import annotations

import logging

ARTIFACT = "ttnn"
LOGGER = "torch_ttnn"


def register() -> None:
    """Register the `ttnn` artifact and the `torch_ttnn` log with torch._logging (idempotent)."""
    from torch._logging import _internal as internal
    reg = internal.log_registry
    if ARTIFACT not in reg.artifact_names:
        internal.register_artifact(ARTIFACT, "torch-ttnn: per compiled graph, the ops on device and on CPU (with "
                                   "the reason for each fallback) and the lowered TT-NN program",
                                   visible=True, off_by_default=True)
    if LOGGER not in reg.log_alias_to_log_qnames:
        internal.register_log(LOGGER, LOGGER)


def artifact() -> logging.Logger:
    """The logger of the `ttnn` artifact (enabled by TORCH_LOGS="ttnn")."""
    register()
    import torch._logging
    return torch._logging.getArtifactLogger(LOGGER, ARTIFACT)
