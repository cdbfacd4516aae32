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
