"""Small models written directly against the ttnn API run on the emulator and match torch float32.

A BERT-style encoder layer (both attention paths: sdpa, and matmul + attention_softmax) and a small conv net
(conv2d + relu + max_pool2d + global pool + linear), each compared with the same computation in float32.
"""
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_pcc

B, S, H, NH, FF = 2, 32, 64, 2, 128
D = H // NH


def encoder_weights():
    g = torch.Generator().manual_seed(0)

    def w(*shape, scale=None):
        return torch.randn(*shape, generator=g) * (scale if scale is not None else shape[0] ** -0.5)

    return dict(wqkv=w(H, 3 * H), bqkv=w(3 * H, scale=0.02), wo=w(H, H), bo=w(H, scale=0.02),
                g1=1 + w(H, scale=0.1), b1=w(H, scale=0.1), w1=w(H, FF), bf1=w(FF, scale=0.02), w2=w(FF, H),
                bf2=w(H, scale=0.02), g2=1 + w(H, scale=0.1), b2=w(H, scale=0.1))


def torch_encoder(x, p, mask):
    qkv = x @ p["wqkv"] + p["bqkv"]
    q, k, v = (t.reshape(B, S, NH, D).transpose(1, 2) for t in qkv.split(H, -1))
    att = torch.softmax(q @ k.transpose(-1, -2) / D ** 0.5 + mask, -1) @ v
    h = F.layer_norm(x + att.transpose(1, 2).reshape(B, S, H) @ p["wo"] + p["bo"], (H,), p["g1"], p["b1"], 1e-12)
    f = F.gelu(h @ p["w1"] + p["bf1"]) @ p["w2"] + p["bf2"]
    return F.layer_norm(h + f, (H,), p["g2"], p["b2"], 1e-12)


def ttnn_encoder(ttnn, x, p, mask, use_sdpa):
    qkv = ttnn.linear(x, p["wqkv"], bias=p["bqkv"])
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(qkv, num_heads=NH, transpose_key=not use_sdpa)
    if use_sdpa:
        att = ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=False)
    else:
        scores = ttnn.matmul(q, k)
        att = ttnn.matmul(ttnn.transformer.attention_softmax(scores, head_size=D, attention_mask=mask), v)
    att = ttnn.linear(ttnn.transformer.concatenate_heads(att), p["wo"], bias=p["bo"])
    h = ttnn.layer_norm(ttnn.add(x, att), weight=p["g1"], bias=p["b1"])
    f = ttnn.linear(ttnn.gelu(ttnn.linear(h, p["w1"], bias=p["bf1"])), p["w2"], bias=p["bf2"])
    return ttnn.layer_norm(ttnn.add(h, f), weight=p["g2"], bias=p["b2"])


@pytest.mark.parametrize("use_sdpa", [True, False], ids=["sdpa", "matmul_softmax"])
def test_bert_encoder_layer(ttnn, device, use_sdpa):
    torch.manual_seed(0)
    p = encoder_weights()
    x = torch.randn(B, S, H)
    mask = torch.zeros(B, 1, 1, S)
    mask[1, ..., S - 5:] = -1e9  # the second sequence is padded
    ref = torch_encoder(x, p, mask)

    def dev(t):
        return ttnn.from_torch(t.reshape(1, -1) if t.dim() == 1 else t, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                               device=device)

    mask_tt = dev(mask.expand(B, 1, S, S).contiguous()) if use_sdpa else dev(mask)
    out = ttnn_encoder(ttnn, dev(x), {n: dev(t) for n, t in p.items()}, mask_tt, use_sdpa)
    assert list(out.shape) == [B, S, H]
    assert_pcc(ref, ttnn.to_torch(out), 0.99)


def test_small_conv_net(ttnn, device):
    torch.manual_seed(0)
    n, c, hw, c1, c2, classes = 2, 3, 16, 8, 16, 10
    x = torch.randn(n, c, hw, hw)
    w1, b1 = torch.randn(c1, c, 3, 3) / (c * 9) ** 0.5, torch.randn(c1) * 0.1
    w2, b2 = torch.randn(c2, c1, 3, 3) / (c1 * 9) ** 0.5, torch.randn(c2) * 0.1
    wf, bf = torch.randn(c2, classes) / c2 ** 0.5, torch.randn(classes) * 0.1

    y = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=1)), 2)
    y = F.relu(F.conv2d(y, w2, b2, stride=2, padding=1))
    ref = y.mean((2, 3)) @ wf + bf

    def conv(inp, w, b, h, stride):
        out, (oh, ow) = ttnn.conv2d(
            input_tensor=inp, weight_tensor=ttnn.from_torch(w, dtype=ttnn.bfloat16),
            bias_tensor=ttnn.from_torch(b.reshape(1, 1, 1, -1), dtype=ttnn.bfloat16), device=device,
            in_channels=w.shape[1], out_channels=w.shape[0], batch_size=n, input_height=h, input_width=h,
            kernel_size=(3, 3), stride=(stride, stride), padding=(1, 1), return_output_dim=True)
        return out, oh

    t = ttnn.from_torch(x.permute(0, 2, 3, 1).contiguous(), dtype=ttnn.bfloat16, device=device)
    t, h = conv(t, w1, b1, hw, 1)
    t = ttnn.relu(t)
    t = ttnn.max_pool2d(ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT), n, h, h, c1, [2, 2], [2, 2], [0, 0], [1, 1])
    h //= 2
    t, h = conv(t, w2, b2, h, 2)
    t = ttnn.relu(t)
    t = ttnn.global_avg_pool2d(ttnn.reshape(t, (n, h, h, c2)))
    t = ttnn.linear(ttnn.reshape(t, (n, c2)), ttnn.from_torch(wf, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                                                              device=device),
                    bias=ttnn.from_torch(bf.reshape(1, -1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                                         device=device))
    assert list(t.shape) == [n, classes]
    assert_pcc(ref, ttnn.to_torch(t), 0.99)
