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
ALLOWED.update({  # data movement / creation ops whose real overloads one Python function covers
    "arange": "one function covers arange(end) and arange(start, end, step=1) (end=None selects the first form)",
    "empty": "the real signature has a required `device` after defaulted dtype/layout, which a Python "
             "signature cannot express; the emulator gives device=None and raises when it is missing",
    "pad": "one function covers pad(t, padding_pairs, value) and pad(t, output_padded_shape, input_tensor_start, "
           "value) through *args",
    "interleaved_to_sharded": "one function covers the (grid, shard_shape, shard_scheme, shard_orientation) and "
                              "the (sharded_memory_config) overloads, told apart by the second argument's type",
    "experimental.view": "one function covers view(t, shape) and view(t, N, C, H, W)",
})
_PREPARE = ("the real Python wrapper is (*args, **kwargs) forwarding to a keyword-only native function; the "
            "emulator exposes that native function's keyword signature (read from ttnn._ttnn.operations.conv)")
ALLOWED.update({n: _PREPARE for n in ("prepare_conv_weights", "prepare_conv_bias", "prepare_conv_transpose2d_weights",
                                      "prepare_conv_transpose2d_bias")})
ALLOWED["gelu"] = ("one Python function covers both real overloads, gelu(t, *, variant=...) and "
                   "gelu(t, *, fast_and_approximate_mode=...), by taking both keywords")
ALLOWED["uniform"] = ("the real second parameter is named `from`, a Python keyword that no Python function (nor an "
                      "inspect.Signature) can carry; the emulator names it `from_` and takes it positionally the same")
ALLOWED["set_printoptions"] = (
    "the real nanobind signature text is `def set_printoptions(\\* , profile: str, sci_mode: Optional[str|bool], "
    "precision: Optional[int]`: the escaped `\\*` defeats the surface reader (it reads no parameters) and no "
    "defaults are listed, yet its docstring calls it with profile alone; the emulator takes keyword-only profile, "
    "sci_mode=None, precision=None")
_MESH_OVERLOADS = ("one Python constructor covers the real overloads ({}), told apart by the arguments' types "
                   "(the real package dispatches them in C++)")
ALLOWED.update({
    "MeshShape": _MESH_OVERLOADS.format("s0, s1 / s0, s1, s2 / shape"),
    "MeshCoordinate": _MESH_OVERLOADS.format("c0, c1 / c0, c1, c2 / coords"),
    "MeshCoordinateRange": _MESH_OVERLOADS.format("start, end / shape"),
    "MeshMapperConfig": _MESH_OVERLOADS.format("placements, ... / row_dim, col_dim, ..."),
    "MeshComposerConfig": _MESH_OVERLOADS.format("dims, ... / row_dim, col_dim, ..."),
})
ALLOWED["MemoryConfig"] = ("one constructor covers both real overloads, (memory_layout, buffer_type, shard_spec) and "
                           "(buffer_type, nd_shard_spec), told apart by the first argument's type (a BufferType "
                           "first is the ND form); nd_shard_spec= is the ND form's keyword, so it is keyword-only")
ALLOWED["TensorSpec"] = ("one constructor covers the three real overloads: after (shape, dtype, layout) come "
                         "(buffer_type, tile), (memory_layout, shard_spec, buffer_type, tile) or (nd_shard_spec, "
                         "buffer_type, tile), told apart by the fourth argument's type or by keyword (*args)")
