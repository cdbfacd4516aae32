"""A mesh spread over processes (sim/multiprocess.py): a 1x8 (and a 2x4) emulated T3000 over 2 local torchrun
processes joined by gloo gives the same bits, and each process the same per-chip figures for the chips it holds,
as one process; raw TT-NN mesh ops with all three collectives, and a compiled tiny model with data parallel, with
tensor parallel, and with both on a 2x4 mesh. Bounded in time: the process group's timeout (60 s) and the
subprocess's (300 s)."""
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

import torch_ttnn
import torch_ttnn.sim as ttnn
from torch_ttnn.sim import multiprocess

from helpers import pcc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mesh_multiprocess_cases as cases  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                 reason="torch.distributed with gloo is not available")]
WORLD = 2
TIMEOUT_S = 300


def _env(**extra) -> dict:
    """The subprocesses import the torch_ttnn this test imports (a worktree, not the installed one)."""
    root = str(Path(torch_ttnn.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", multiprocess.ENV)}
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return {**env, **extra}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[list[dict], dict]:
    """(each torchrun process's results by rank, the one-process results) of tests/sim/mesh_multiprocess_cases.py;
    the processes run while this one computes the reference."""
    out = tmp_path_factory.mktemp("mesh_mp")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc-per-node",
           str(WORLD), str(HERE / "mesh_multiprocess_cases.py"), str(out)]
    proc = subprocess.Popen(cmd, env=_env(TORCH_TTNN_SIM_ARCH="t3000", MESH_MP_TIMEOUT_S="60"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ref = _single()
        _, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the {WORLD} processes did not finish in {TIMEOUT_S} s:\n{err[-3000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{err[-5000:]}"
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)], ref


def _single() -> dict:
    """The same cases in this one process (torch.distributed not initialised: the default)."""
    assert not dist.is_initialized()
    saved = os.environ.get("TORCH_TTNN_SIM_ARCH")
    os.environ["TORCH_TTNN_SIM_ARCH"] = "t3000"
    try:
        return cases.run_all()
    finally:
        if saved is None:
            os.environ.pop("TORCH_TTNN_SIM_ARCH")
        else:
            os.environ["TORCH_TTNN_SIM_ARCH"] = saved


@pytest.fixture(scope="module")
def spread(runs) -> list[dict]:
    return runs[0]


@pytest.fixture(scope="module")
def single(runs) -> dict:
    return runs[1]


def _block(rank: int, chips: int = 8) -> list[int]:
    per = chips // WORLD
    return list(range(rank * per, (rank + 1) * per))


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal bit for bit (NaNs included), not just numerically."""
    def raw(t):
        return t.contiguous().reshape(-1).view(torch.uint8)
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(raw(a), raw(b))


@pytest.mark.parametrize("case", ["raw_1x8", "raw_2x4"])
def test_raw_mesh_ops_over_two_processes_give_the_same_bits(spread, single, case):
    ref = single[case]
    tensors = [k for k, v in ref.items() if isinstance(v, torch.Tensor)]
    assert {"all_gather_all", "reduce_scatter_all", "all_reduce_all", "y", "aggregate", "via_host"} <= set(tensors)
    if case == "raw_2x4":   # along the columns (chips 0|4 ...: in both processes) and the rows (in one each)
        assert {"all_reduce_axis0", "reduce_scatter_axis0", "all_gather_axis1"} <= set(tensors)
    for rank, res in enumerate(spread):
        got = res[case]
        for k in tensors:
            assert _same_bits(got[k], ref[k]), f"rank {rank}: {k} differs from the one-process run"
        # each process holds its block of chips, their shards only; their figures are the one-process chips'
        mine = _block(rank)
        assert got["held"] == [k in mine for k in range(8)] and got["device_tensors"] == len(mine)
        assert got["remote_chips"] == [k not in mine for k in range(8)]
        assert sorted(got["chips"]) == mine
        assert got["eager_chips"] == [ref["ids"][k] for k in mine]
        assert got["chips"] == {k: ref["chips"][k] for k in mine}
    assert ref["held"] == [True] * 8 and ref["remote_chips"] == [False] * 8 and ref["eager_chips"] == ref["ids"]
    assert min(t for t, _ in ref["chips"].values()) > 0


@pytest.mark.parametrize("mode", ["data_parallel", "tensor_parallel", "data_and_tensor_parallel"])
def test_compiled_tiny_model_over_two_processes_gives_the_same_bits(spread, single, mode):
    ref = single[mode]
    assert pcc(ref["ref"], ref["out"]) >= 0.99 and ref["cpu_ops"] == 0
    if "tensor_parallel" in mode:   # the model really was split: an all_reduce and an all-gathered output
        tp = ref["tensor_parallel"]
        assert tp["all_reduces"] == 1 and tp["all_gathers"] == 1 and tp["replicated_linears"] == {}
        assert ref["collective_ms"] > 0
    assert len(ref["per_chip_ms"]) == 8
    for rank, res in enumerate(spread):
        got = res[mode]
        assert _same_bits(got["out"], ref["out"]), f"rank {rank}: the compiled model's output differs"
        assert got["processes"] == {"rank": rank, "world_size": WORLD, "chips": _block(rank)}
        # each process reports its chips: the one-process run's figures for those chips
        assert got["per_chip_ms"] == [ref["per_chip_ms"][k] for k in _block(rank)]
        assert got["chips"] == {k: ref["chips"][k] for k in _block(rank)}
        assert got["collective_ms"] == ref["collective_ms"] and got["tensor_parallel"] == ref["tensor_parallel"]
    # the mesh's time is the busiest chip's: the maximum over the processes
    assert max(max(r[mode]["per_chip_ms"]) for r in spread) == max(ref["per_chip_ms"])


def test_bad_meshes_are_errors_in_every_process(spread):
    for res in spread:
        err = res["errors"]
        assert "3-chip mesh [1, 3] cannot be spread evenly over 2 processes" in err["indivisible"]
        assert "opened different meshes (rank 0: t3000 mesh [1, 8]; rank 1: t3000 mesh [2, 4])" in err["mismatch"]


# --- in this process: the default, and asking for the mode without a process group ------------------------------
@pytest.fixture
def no_torchrun(monkeypatch):
    for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", multiprocess.ENV):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("TORCH_TTNN_SIM_ARCH", "t3000")


def test_one_process_is_the_default(no_torchrun):
    mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 8))
    try:
        assert mesh.processes is None and len(mesh.get_devices()) == 8
    finally:
        ttnn.close_mesh_device(mesh)


def test_asking_for_processes_without_a_process_group_says_how(no_torchrun, monkeypatch):
    monkeypatch.setenv(multiprocess.ENV, "1")
    with pytest.raises(multiprocess.DistributedMeshError, match="torchrun --nproc-per-node 2"):
        ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 8))
    monkeypatch.setenv(multiprocess.ENV, "yes")
    with pytest.raises(multiprocess.DistributedMeshError, match="use 1 .* or 0"):
        ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 8))


def test_torchrun_environment_without_a_process_group_warns(no_torchrun, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(multiprocess, "_warned_env", False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 8))
    ttnn.close_mesh_device(mesh)
    assert mesh.processes is None
    assert any("every process emulates the whole mesh" in str(x.message) for x in w)


def test_a_process_group_without_gloo_is_refused(no_torchrun, monkeypatch):
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_backend", lambda *a: "nccl")
    with pytest.raises(multiprocess.DistributedMeshError, match="needs a gloo group"):
        ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 8))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("how", ["explicit", "torchrun_env"])
def test_a_one_process_group_keeps_the_mesh_whole(no_torchrun, monkeypatch, tmp_path, how):
    """A group started by multiprocess.init(init_method=...), or by open_mesh_device itself from torchrun's
    variables when TORCH_TTNN_SIM_DISTRIBUTED=1: with one process the mesh stays whole."""
    if how == "explicit":
        multiprocess.init(init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1, timeout_s=30)
    else:
        for k, v in {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
                     multiprocess.ENV: "1"}.items():
            monkeypatch.setenv(k, v)
    try:
        mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 8))
        assert dist.is_initialized() and dist.get_backend() == "gloo"
        assert mesh.processes is None and len(mesh.get_devices()) == 8
        ttnn.close_mesh_device(mesh)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
