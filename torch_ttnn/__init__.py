"""torch-ttnn: run PyTorch models on Tenstorrent's TT-NN (or its emulator, torch_ttnn.sim)."""
__version__ = "0.6.0"
