"""Vision models: transformers and convnets for classification, a backbone and a segmenter.

Full configs take the published checkpoint's hyper-parameters and its native input resolution; tiny configs
keep the block types (bottleneck, inverted residual, shifted windows, overlapping patch merging, ...) at small
widths and 32-64 pixel images.
"""
from __future__ import annotations

import transformers as hf

from .inputs import attr, init, pick, pixels
from .registry import Example, register

VIT_TINY = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, image_size=32,
                patch_size=8, num_labels=10)
VIT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                image_size=224, patch_size=16, num_labels=1000)


def _classify(cls, cfg, size_px, batch, gen, output="logits"):
    return Example(init(cls, cfg), (), dict(pixel_values=pixels(gen, batch, size_px)), attr(output), output)


@register("vit", full="google/vit-base-patch16-224", task="image-classification", params=86_567_656)
def vit(size, batch, gen):
    cfg = hf.ViTConfig(**pick(size, VIT_TINY, VIT_BASE, hidden_act="gelu", layer_norm_eps=1e-12, qkv_bias=True))
    return _classify(hf.ViTForImageClassification, cfg, cfg.image_size, batch, gen)


@register("deit", full="facebook/deit-tiny-patch16-224", task="image-classification", params=5_717_416)
def deit(size, batch, gen):
    cfg = hf.DeiTConfig(**pick(size, VIT_TINY, dict(VIT_BASE, hidden_size=192, num_attention_heads=3,
                                                    intermediate_size=768),
                               hidden_act="gelu", layer_norm_eps=1e-12, qkv_bias=True))
    return _classify(hf.DeiTForImageClassification, cfg, cfg.image_size, batch, gen)


@register("swin", full="microsoft/swin-tiny-patch4-window7-224", task="image-classification", params=28_288_354)
def swin(size, batch, gen):
    cfg = hf.SwinConfig(**pick(size, dict(image_size=32, patch_size=2, embed_dim=32, depths=[1, 1],
                                          num_heads=[1, 2], window_size=4, num_labels=10),
                               dict(image_size=224, patch_size=4, embed_dim=96, depths=[2, 2, 6, 2],
                                    num_heads=[3, 6, 12, 24], window_size=7, num_labels=1000),
                               mlp_ratio=4.0, qkv_bias=True, hidden_act="gelu", drop_path_rate=0.1,
                               layer_norm_eps=1e-5))
    return _classify(hf.SwinForImageClassification, cfg, cfg.image_size, batch, gen)


@register("convnext", full="facebook/convnext-tiny-224", task="image-classification", params=28_589_128)
def convnext(size, batch, gen):
    cfg = hf.ConvNextConfig(**pick(size, dict(hidden_sizes=[32, 64], depths=[1, 1], num_labels=10, image_size=32,
                                                    num_stages=2),
                                   dict(hidden_sizes=[96, 192, 384, 768], depths=[3, 3, 9, 3], num_labels=1000,
                                        image_size=224, num_stages=4),
                                   patch_size=4, hidden_act="gelu", layer_scale_init_value=1e-6, drop_path_rate=0.0))
    return _classify(hf.ConvNextForImageClassification, cfg, cfg.image_size, batch, gen)


@register("resnet", full="microsoft/resnet-50", task="image-classification", params=25_557_032)
def resnet(size, batch, gen):
    cfg = hf.ResNetConfig(**pick(size, dict(embedding_size=16, hidden_sizes=[32, 64], depths=[1, 1], num_labels=10),
                                 dict(embedding_size=64, hidden_sizes=[256, 512, 1024, 2048], depths=[3, 4, 6, 3],
                                      num_labels=1000),
                                 layer_type="bottleneck", hidden_act="relu", downsample_in_first_stage=False))
    return _classify(hf.ResNetForImageClassification, cfg, 32 if size == "tiny" else 224, batch, gen)


@register("mobilenetv2", full="google/mobilenet_v2_1.0_224", task="image-classification", params=3_506_153)
def mobilenetv2(size, batch, gen):
    # 100 labels in the tiny config, not 10: PCC over 10 logits is one or two values' worth of evidence, and
    # this deep narrow net sits near the threshold (bf16 weights and activations on CPU alone give ~0.99), so
    # 10 logits made its verdict flip with any rounding change; 100 gives 0.992-0.996 over seeds 0-3.
    cfg = hf.MobileNetV2Config(**pick(size, dict(depth_multiplier=0.5, image_size=64, num_labels=100),
                                      dict(depth_multiplier=1.0, image_size=224, num_labels=1001),
                                      hidden_act="relu6", tf_padding=True, finegrained_output=True))
    return _classify(hf.MobileNetV2ForImageClassification, cfg, cfg.image_size, batch, gen)


@register("efficientnet", full="google/efficientnet-b0", task="image-classification", params=5_288_548)
def efficientnet(size, batch, gen):
    cfg = hf.EfficientNetConfig(**pick(size, dict(width_coefficient=0.25, depth_coefficient=0.5, image_size=32,
                                                  hidden_dim=320, num_labels=10),
                                       dict(width_coefficient=1.0, depth_coefficient=1.0, image_size=224,
                                            hidden_dim=1280, num_labels=1000),
                                       dropout_rate=0.2, hidden_act="swish", depthwise_padding=[]))
    return _classify(hf.EfficientNetForImageClassification, cfg, cfg.image_size, batch, gen)


@register("regnet", full="facebook/regnet-x-002", task="image-classification", params=2_684_792)
def regnet(size, batch, gen):
    cfg = hf.RegNetConfig(**pick(size, dict(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], num_labels=10),
                                 dict(embedding_size=32, hidden_sizes=[24, 56, 152, 368], depths=[1, 1, 4, 7],
                                      num_labels=1000),
                                 groups_width=8, layer_type="x", hidden_act="relu"))
    return _classify(hf.RegNetForImageClassification, cfg, 32 if size == "tiny" else 224, batch, gen)


@register("segformer", full="nvidia/segformer-b0-finetuned-ade-512-512", task="semantic-segmentation",
          params=3_752_694)
def segformer(size, batch, gen):
    cfg = hf.SegformerConfig(**pick(size, dict(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
                                               hidden_sizes=[32, 64], patch_sizes=[7, 3], strides=[4, 2],
                                               num_attention_heads=[1, 2], mlp_ratios=[4, 4], decoder_hidden_size=32,
                                               num_labels=10),
                                    dict(num_encoder_blocks=4, depths=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1],
                                         hidden_sizes=[32, 64, 160, 256], patch_sizes=[7, 3, 3, 3],
                                         strides=[4, 2, 2, 2], num_attention_heads=[1, 2, 5, 8],
                                         mlp_ratios=[4, 4, 4, 4], decoder_hidden_size=256, num_labels=150),
                                    hidden_act="gelu", layer_norm_eps=1e-6, drop_path_rate=0.1))
    return _classify(hf.SegformerForSemanticSegmentation, cfg, 64 if size == "tiny" else 512, batch, gen)


@register("dinov2", full="facebook/dinov2-small", task="image-backbone", params=22_056_576)
def dinov2(size, batch, gen):
    cfg = hf.Dinov2Config(**pick(size, dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2),
                                 dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6),
                                 mlp_ratio=4, patch_size=14, image_size=518, layerscale_value=1.0,
                                 layer_norm_eps=1e-6, hidden_act="gelu", use_swiglu_ffn=False))
    # Checkpoints are trained at 518 px but served at the image processor's 224 px crop (interpolated positions).
    return _classify(hf.Dinov2Model, cfg, 56 if size == "tiny" else 224, batch, gen, "last_hidden_state")
