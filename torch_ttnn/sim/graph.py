"""`ttnn.graph`: graph capture of the operations a program runs (begin_graph_capture / end_graph_capture /
extract_calltrace), for tools that check which TT-NN ops a model really executes.

The real capture is a list of nodes, each a dict with a `counter`, a `node_type` ("capture_start",
"function_start", "function_end", "tensor", "capture_end", ...), `params` and `connections` (counters of the
nodes it leads to); `extract_calltrace` lists the names of the function_start nodes in call order, nested calls
included. Operation names are the C++ ones (`ttnn::add`, `ttnn::transformer::scaled_dot_product_attention`),
Python-level functions keep their dotted name (`ttnn.from_torch`), and a device-to-host read appears as
`Tensor::cpu` inside the call that reads (to_torch / from_device of a device tensor), which is what tools count
to find host round trips. The emulator records exactly these nodes; buffer allocation nodes and device-operation
names (e.g. `BinaryNgDeviceOperation`) are not modelled.
"""
from __future__ import annotations

from .operation import Operation
from .tensor import Tensor
from .types import _Enum

__all__ = ["RunMode", "begin_graph_capture", "end_graph_capture", "extract_calltrace", "is_graph_capture_active"]

# Functions that are Python in the real package: the capture names them by their Python name.
_PYTHON_LEVEL = {"ttnn.from_torch", "ttnn.to_torch", "ttnn.pearson_correlation_coefficient"}
# Calls that read a device tensor back to the host.
_HOST_READS = {"ttnn.to_torch", "ttnn.from_device"}


class RunMode(_Enum):
    NORMAL = 0
    NO_DISPATCH = 1


class _Capture:
    """The node list being built, and the stack of open function_start nodes (for connections)."""

    def __init__(self, run_mode: RunMode):
        self.run_mode = run_mode
        self.nodes: list[dict] = []
        self.open: list[dict] = []
        self._node("capture_start", {})

    def _node(self, node_type: str, params: dict) -> dict:
        node = {"counter": len(self.nodes), "node_type": node_type, "params": params, "connections": []}
        if self.open:
            self.open[-1]["connections"].append(node["counter"])
        self.nodes.append(node)
        return node

    def start(self, name: str, inputs: int) -> dict:
        node = self._node("function_start", {"name": name, "inputs": str(inputs)})
        self.open.append(node)
        return node

    def end(self, name: str, outputs) -> None:
        self.open.pop()
        end = self._node("function_end", {"name": name})
        for t in outputs:
            tnode = self._node("tensor", {"tensor_id": str(id(t)), "shape": str(list(t.shape))})
            end["connections"].append(tnode["counter"])

    def call(self, op: Operation, args, kwargs):
        qual = op.python_fully_qualified_name
        name = qual if qual in _PYTHON_LEVEL else qual.replace(".", "::")
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        self.start(name, len(tensors))
        if qual in _HOST_READS and tensors and tensors[0].device() is not None:
            self.start("Tensor::cpu", 1)
            self.end("Tensor::cpu", [])
        # an exception leaves the call open; end_graph_capture closes what is open, as the real capture unwinds
        result = op.function(*args, **kwargs) if Operation._capture is None else \
            Operation._capture.call(op, args, kwargs)
        outs = [result] if isinstance(result, Tensor) else \
            [r for r in result if isinstance(r, Tensor)] if isinstance(result, (list, tuple)) else []
        self.end(name, outs)
        return result


def begin_graph_capture(run_mode=None, *, _internal=False):
    """Start recording every TT-NN call (NORMAL runs them; NO_DISPATCH is accepted and runs them too: the emulator
    has no separate dispatch to skip)."""
    if Operation._graph is not None:
        raise RuntimeError("begin_graph_capture: a graph capture is already active; call "
                           "ttnn.graph.end_graph_capture() first")
    mode = RunMode.NORMAL if run_mode is None else run_mode
    if not isinstance(mode, RunMode):
        raise TypeError(f"begin_graph_capture: run_mode must be a ttnn.graph.RunMode, got {run_mode!r}")
    Operation._graph = _Capture(mode)


def end_graph_capture():
    """Stop recording and return the captured node list."""
    cap = Operation._graph
    if cap is None:
        raise RuntimeError("end_graph_capture: no graph capture is active; call ttnn.graph.begin_graph_capture() "
                           "first")
    Operation._graph = None
    while cap.open:
        cap.end(cap.open[-1]["params"]["name"], [])
    cap._node("capture_end", {})
    return cap.nodes


def extract_calltrace(trace) -> list[str]:
    """The names of the calls in a captured graph, in the order they started."""
    return [n["params"]["name"] for n in trace if n["node_type"] == "function_start"]


def is_graph_capture_active() -> bool:
    return Operation._graph is not None
