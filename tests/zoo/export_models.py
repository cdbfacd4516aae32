"""Small user models for the export tests (`tests/zoo/export_models.py:function`)."""
import torch
import torch.nn.functional as F


class Odd(torch.nn.Module):
    """A linear, a graph break, then F.fold (col2im, no TT-NN rule: a CPU fallback) on input + a parameter."""
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 16)
        self.shift = torch.nn.Parameter(torch.randn(1, 16, 4))

    def forward(self, x):
        y = torch.relu(self.fc(x))
        torch._dynamo.graph_break()
        z = F.fold(y.reshape(1, 16, 4) + self.shift, output_size=(4, 4), kernel_size=2, stride=2)
        return z * 2 + 1


def odd(generator):
    return Odd().eval(), torch.randn(4, 16, generator=generator)


class Wide(torch.nn.Module):
    """linear -> linear -> layer_norm -> linear over [256, 1024]: traced, the shard pass block-shards it in L1
    with matmul and layer-norm program configs (as tests/compiler/test_shard.py finds)."""
    def __init__(self, width=1024):
        super().__init__()
        self.pre, self.up = torch.nn.Linear(32, 32), torch.nn.Linear(32, width)
        self.norm, self.down = torch.nn.LayerNorm(width), torch.nn.Linear(width, 32)

    def forward(self, x):
        return self.down(self.norm(self.up(self.pre(x))))


def wide(generator):
    return Wide().eval(), torch.randn(256, 32, generator=generator)
