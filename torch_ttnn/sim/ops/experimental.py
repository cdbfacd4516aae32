"""ttnn.experimental (emulated): the few experimental ops torch-ttnn and TT-NN model code reach for.

view (with its (N, C, H, W) overload) and the NLP head helpers nlp_create_qkv_heads / nlp_concat_heads.
(ttnn.experimental.typecast / concatenate_heads / split_query_key_value_and_split_heads have signatures of
their own in 0.81.1, different from the top-level ops, and are not emulated.)
"""
from __future__ import annotations

from ..operation import operation
from . import data_movement as _dm
from . import transformer as _tr

__all__ = ["view", "nlp_create_qkv_heads", "nlp_concat_heads"]


@operation("ttnn.experimental.view", golden_function=lambda t, shape, **_: t.reshape(shape))
def view(input_tensor, N, C=None, H=None, W=None):
    """view(t, shape) or view(t, N, C, H, W): a reshape that moves no data (see ttnn.view for the rules)."""
    shape = list(N) if C is None else [N, C, H, W]
    return _dm.view.function(input_tensor, shape)


@operation("ttnn.experimental.nlp_create_qkv_heads")
def nlp_create_qkv_heads(input, input_kv=None, *, num_heads, num_kv_heads=None, transpose_k_heads=True,
                         kv_tied=False, memory_config=None, output_tensors=None):
    """Fused QKV [B, 1, S, (NH + 2*NKV)*D] -> Q [B, NH, S, D], K [B, NKV, D, S] (or [B, NKV, S, D]), V."""
    _dm._check(len(input.shape) == 4 and input.shape[1] == 1, "ttnn.experimental.nlp_create_qkv_heads",
               f"input must be [B, 1, S, hidden], got {list(input.shape)}")
    x = _dm.squeeze.function(input, 1)
    kv = None if input_kv is None else _dm.squeeze.function(input_kv, 1)
    return _tr.split_query_key_value_and_split_heads.function(x, kv, num_heads=num_heads, num_kv_heads=num_kv_heads,
                                                              transpose_key=transpose_k_heads,
                                                              memory_config=memory_config)


@operation("ttnn.experimental.nlp_concat_heads",
           golden_function=lambda t, **_: t.permute(0, 2, 1, 3).reshape(t.shape[0], 1, t.shape[2], -1))
def nlp_concat_heads(input_tensor, *, memory_config=None):
    """[B, NH, S, D] -> [B, 1, S, NH*D]."""
    y = _tr.concatenate_heads.function(input_tensor, memory_config=memory_config)
    return _dm.unsqueeze.function(y, 1)
