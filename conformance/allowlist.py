"""Deliberate differences between the emulator's API surface and the real ttnn 0.81.1, each with its reason.

A name here is exempt from the signature/kind comparison. A bug is fixed, never listed. An entry that no longer
differs fails the run (tests/real_ttnn/test_surface.py), so the list cannot go stale.
"""
ALLOWED = {
    "typecast": "one Python function covers both real overloads, typecast(t, dtype) and typecast(t, input_dtype, "
                "output_dtype), through *args (the real package dispatches the two in C++)",
    "reshape": "one Python function covers reshape(t, shape) and reshape(t, logical_shape, padded_shape) "
               "through *args",
}
ALLOWED.update({
    "open_device": "the real nanobind signature text lists no defaults, yet every argument is optional (its docstring "
                   "gives the defaults and `ttnn.open_device(device_id=0)` is its documented use); the emulator "
                   "gives those defaults",
    "device.open_device": "same function as ttnn.open_device (see there)",
    "device.Device": "the real class is built by open_device, its constructor is an opaque nanobind (*args, **kwargs)",
})
ALLOWED["Device"] = ALLOWED["device.Device"]
