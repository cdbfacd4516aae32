"""torch_ttnn.sim: an op-level emulator of the TT-NN Python API.

`import torch_ttnn.sim as ttnn` gives the names, signatures and defaults of the real `ttnn` package for the
subset torch-ttnn uses, computing on the host with the device's numerics (bfloat16, block-float, matmul
fidelity), layouts (32x32 tiles with padding), memory limits and errors, and a per-op device-time estimate.
`python -m torch_ttnn.sim script.py` runs a script written with `import ttnn` on it.
"""
from .types import *  # noqa: F401,F403  (the enums, configs and dtype aliases are ttnn's top-level names)
from .types import (Arch, BufferType, CoreCoord, CoreGrid, CoreRange, CoreRangeSet, DataType, Layout, MathFidelity,
                    MemoryConfig, Shape, ShardOrientation, ShardSpec, StorageType, TensorMemoryLayout,
                    WormholeComputeKernelConfig, init_device_compute_kernel_config)
from .device import (ARCHS, CloseDevice, CreateDevice, Device, GetDefaultDevice, GetNumAvailableDevices,
                     GetNumPCIeDevices, OutOfMemoryError, SetDefaultDevice, close_device, manage_device,
                     open_device, synchronize_device)
from .operation import Operation, get_golden_function
from .tensor import (Tensor, clone, deallocate, from_device, from_torch, is_tensor_storage_on_device, reshape,
                     to_device, to_layout, to_memory_config, to_torch, typecast)
from .trace import (MeshTraceId, begin_trace_capture, copy_host_to_device_tensor, end_trace_capture,
                    execute_trace, release_trace)
from .mesh import *  # noqa: F401,F403,E402  multi-chip meshes (MeshDevice, mappers, composers)
from . import ops as _ops  # noqa: E402  registers the operation library into this namespace
from .ops import *  # noqa: F401,F403,E402
# Modules and descriptions TT-NN programs import beyond the operations (issue 16).
from . import dot_access, graph, model_preprocessing, operations  # noqa: E402,F401
from .spec import (DispatchCoreAxis, DispatchCoreConfig, DispatchCoreType, ShardShapeAlignment, TensorSpec,  # noqa
                   TileReshapeMapMode, allocate_tensor_on_device, allocate_tensor_on_host, set_printoptions)

__version__ = "0.81.1+sim"
IS_EMULATOR = True
