"""The 0.5 import path of the eager device. There is no C++ extension any more: see torch_ttnn.device."""
