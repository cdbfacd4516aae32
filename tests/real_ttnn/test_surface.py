"""API surface: every name the emulator exports that the real ttnn has is the same kind, with a signature equal to
one real overload (names, order, keyword-only split, defaults), enum members equal; or is allow-listed."""
from conformance import harness
from conformance.allowlist import ALLOWED


def _problems(real):
    emu, rs = harness.emulator_surface(), real["surface"]
    return {n: harness.compare_name(n, emu[n], rs[n]) for n in sorted(set(emu) & set(rs))}


def test_shared_names_conform(real):
    bad = {n: p for n, p in _problems(real).items() if p and n not in ALLOWED}
    assert not bad, "emulator names that differ from the real ttnn (fix them, or allow-list with a reason):\n" + \
        "\n".join(f"  ttnn.{n}: {'; '.join(p)}" for n, p in bad.items())


def test_allowlist_is_needed(real):
    probs = _problems(real)
    stale = [n for n in ALLOWED if not probs.get(n)]
    assert not stale, f"allow-list entries that no longer differ or no longer exist on both sides: {stale}"


def test_signature_comparison_catches_differences():
    real_overload = [{"name": "input_tensor", "kind": "POSITIONAL_OR_KEYWORD"},
                     {"name": "memory_config", "kind": "KEYWORD_ONLY", "default": {"repr": "None", "type": "NoneType"}}]
    same = [dict(p) for p in real_overload]
    assert harness.param_diff(same, real_overload) == []
    positional = [real_overload[0], dict(real_overload[1], kind="POSITIONAL_OR_KEYWORD")]
    assert harness.param_diff(positional, real_overload)
    other_default = [real_overload[0], dict(real_overload[1], default={"repr": "1", "type": "int"})]
    assert harness.param_diff(other_default, real_overload)
    assert harness.param_diff(real_overload[:1], real_overload)


# Real methods the emulated mesh classes leave out on purpose (what they need is not emulated).
MESH_METHODS_NOT_EMULATED = {
    "MeshDevice": {"clear_loaded_sub_device_manager", "create_sub_device_manager", "load_sub_device_manager",
                   "remove_sub_device_manager", "reset_sub_device_stall_group", "set_sub_device_stall_group",
                   "get_fabric_node_id", "get_optimal_dram_bank_to_logical_worker_assignment", "get_system_mesh_id",
                   "get_view", "dram_core_from_logical_core", "logical_core_from_worker_core",
                   "worker_core_from_logical_core", "quiesce_devices", "sfpu_eps", "sfpu_inf", "sfpu_nan"},
}


def test_mesh_class_methods_conform(real):
    """The mesh classes' methods (MeshDevice.create_submesh, reshape, get_device_ids, ...) have the real names and
    signatures; what is left out is listed above."""
    from conformance.corpus import METHOD_CLASSES
    bad = {}
    for name in METHOD_CLASSES:
        probs = [p for p in harness.method_problems(name, real["surface"][name])
                 if p.split(":")[0] not in MESH_METHODS_NOT_EMULATED.get(name, ())]
        if probs:
            bad[name] = probs
    assert real["surface"]["MeshDevice"].get("methods"), "the real side recorded no MeshDevice methods"
    assert not bad, "\n".join(f"  ttnn.{n}: {'; '.join(p)}" for n, p in bad.items())
