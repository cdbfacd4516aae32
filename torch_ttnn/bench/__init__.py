"""The benchmark suite (`make bench`, `torch-ttnn bench`): the compiler and the emulator against their peers
(Inductor, eager PyTorch on CPU) and their limits (minimum transfers, the roofline, a bare Python call).

Figures and targets: `figures.FIGURES` / `figures.TARGETS`; one model's measurement: `worker`; the run over
models and the results file: `suite`; the Markdown summary: `report`; the null runtime: `nullrt`.
"""
