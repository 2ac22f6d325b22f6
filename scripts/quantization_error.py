#!/usr/bin/env python3
"""Error of reduced-precision schemes for the image encoder, simulated on a CLIP model folder.

    python3 scripts/quantization_error.py MODEL_DIR [MODEL_DIR ...] [--schemes a,b,...] [--json]

For each model folder (Hugging Face layout: config.json, model.safetensors) the vision tower is run in float64
as clipcam runs it (transformers 5 modeling_clip.py CLIPVisionTransformer + visual_projection; checked against
transformers' own output), once exactly and once per scheme with each linear layer's operands rounded as the
scheme says ("fake quantisation": the rounding is exact, the arithmetic after it float64, which is what an exact
integer dot product followed by the float rebuild gives). Printed: the minimum (and median) cosine between each
scheme's image embedding and the exact one over varied images: the fixture images (Tests/Fixtures/images,
preprocessed to the model's size) and seeded random frames (smooth gradients, blocks, noise, and pure noise).

Schemes (weights always per output channel; activations always per token, i.e. per row of the product):
  int16       clipcam's 16-bit path: levels L = floor(sqrt((2^31-1)/K')) for both operands (K' = K rounded to even)
  u8s8        ONNX Runtime's dynamic scheme at finer granularity: u8 activations with a zero point per token
              (range widened to hold 0), s8 weights (+-127) per output channel, for every linear layer
  s8s8        symmetric s8 activations (+-127) per token, s8 weights
  w8a16       s8 weights, 16-bit activations
  mlp8        u8s8 in fc1 and fc2 only, int16 elsewhere
  fc1_8       u8s8 in fc1 only; fc2_8: in fc2 only; qkv_8: in q/k/v only
  u8s8_edge16 u8s8 except the first and last blocks, which stay int16
  bf16        both operands of every linear layer rounded to bfloat16 (vdpbf16ps), fp32 attention
  bf16_attn   bf16 linears and bf16 operands of the attention products too
  u8s8_bf16attn  u8s8 linears and bf16 attention products
  int8        clipcam's --precision int8: u8s8 in the blocks' linear layers and 8-bit attention products (the
              patch embedding int16)
  u8s8_attn8  u8s8 linears and 8-bit attention products (Q u8 per query, K s8 per key, P u8 per query, V s8 per
              channel); u8s8_attn16: 16-bit attention products
  *_patch8    suffix: the patch embedding also in the scheme (otherwise it stays int16 for integer schemes)
The attention products (Q.K^T and P.V) stay float unless a scheme says otherwise, as in clipcam.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "Tests" / "Fixtures" / "images"
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


# --- rounding of operands -------------------------------------------------------------------------------------


def levels16(k):
    even = max((k + 1) // 2 * 2, 2)
    return min(32767, int(math.isqrt((2**31 - 1) // even)))


def symmetric(x, levels):
    """Per row (last axis) symmetric rounding to integers within +-levels, as float."""
    largest = x.abs().amax(dim=-1, keepdim=True)
    step = torch.where(largest > 0, largest / levels, torch.ones_like(largest))
    return (x / step).round().clamp(-levels, levels) * step


def asymmetric_u8(x):
    """Per row u8 with a zero point (ONNX Runtime's DynamicQuantizeLinear, per row): the range [min, max] is widened
    to hold 0, scale = (max - min) / 255, zero point = round(-min / scale)."""
    low = x.amin(dim=-1, keepdim=True).clamp(max=0)
    high = x.amax(dim=-1, keepdim=True).clamp(min=0)
    scale = (high - low) / 255
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero = (-low / scale).round().clamp(0, 255)
    q = ((x / scale).round() + zero).clamp(0, 255)
    return (q - zero) * scale


def bf16(x):
    return x.to(torch.float32).to(torch.bfloat16).to(torch.float64)


def rounding(kind, k):
    """The rounding of one operand: kind in int16, s8, u8, bf16, exact."""
    if kind == "exact":
        return lambda t: t
    if kind == "int16":
        return lambda t: symmetric(t, levels16(k))
    if kind == "s8":
        return lambda t: symmetric(t, 127)
    if kind == "s7":
        return lambda t: symmetric(t, 63)
    if kind == "u8":
        return asymmetric_u8
    if kind == "u7":
        return lambda t: asymmetric_u7(t)
    if kind == "bf16":
        return bf16
    raise ValueError(kind)


def asymmetric_u7(x):
    low = x.amin(dim=-1, keepdim=True).clamp(max=0)
    high = x.amax(dim=-1, keepdim=True).clamp(min=0)
    scale = (high - low) / 127
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero = (-low / scale).round().clamp(0, 127)
    q = ((x / scale).round() + zero).clamp(0, 127)
    return (q - zero) * scale


# --- schemes --------------------------------------------------------------------------------------------------

INT16 = ("int16", "int16")
U8S8 = ("u8", "s8")
EXACT = ("exact", "exact")


def scheme_table(name):
    """(per-layer function (block index, blocks, layer kind) -> (activation kind, weight kind), attention kind)."""
    patch8 = name.endswith("_patch8")
    base = name[: -len("_patch8")] if patch8 else name

    def pick(default, patch=INT16):
        def choose(index, blocks, kind):
            if kind == "patch":
                return default(index, blocks, "any") if patch8 else patch
            return default(index, blocks, kind)

        return choose

    attention = "exact"
    if base == "exact":
        return pick(lambda i, n, k: EXACT, EXACT), attention
    if base == "int16":
        return pick(lambda i, n, k: INT16), attention
    if base == "u8s8":
        return pick(lambda i, n, k: U8S8), attention
    if base == "s8s8":
        return pick(lambda i, n, k: ("s8", "s8")), attention
    if base == "u7s8":
        return pick(lambda i, n, k: ("u7", "s8")), attention
    if base == "u8s7":
        return pick(lambda i, n, k: ("u8", "s7")), attention
    if base == "w8a16":
        return pick(lambda i, n, k: ("int16", "s8")), attention
    if base == "mlp8":
        return pick(lambda i, n, k: U8S8 if k in ("fc1", "fc2") else INT16), attention
    if base == "fc1_8":
        return pick(lambda i, n, k: U8S8 if k == "fc1" else INT16), attention
    if base == "fc2_8":
        return pick(lambda i, n, k: U8S8 if k == "fc2" else INT16), attention
    if base == "qkv_8":
        return pick(lambda i, n, k: U8S8 if k == "qkv" else INT16), attention
    if base == "out_8":
        return pick(lambda i, n, k: U8S8 if k == "out" else INT16), attention
    if base == "noqkv8":
        return pick(lambda i, n, k: INT16 if k == "qkv" else U8S8), attention
    if base == "attn8":
        return pick(lambda i, n, k: U8S8 if k in ("qkv", "out") else INT16), attention
    if base == "u8s8_edge16":
        return pick(lambda i, n, k: INT16 if i in (0, n - 1) else U8S8), attention
    if base == "u8s8_first16":
        return pick(lambda i, n, k: INT16 if i == 0 else U8S8), attention
    if base == "bf16":
        return pick(lambda i, n, k: ("bf16", "bf16"), ("bf16", "bf16")), attention
    if base == "bf16_attn":
        return pick(lambda i, n, k: ("bf16", "bf16"), ("bf16", "bf16")), "bf16"
    if base == "u8s8_bf16attn":
        return pick(lambda i, n, k: U8S8), "bf16"
    if base == "int16_bf16attn":
        return pick(lambda i, n, k: INT16), "bf16"
    if base == "int8":
        # clipcam's --precision int8: the blocks' linear layers and attention in 8 bits, the patch embedding in 16.
        return pick(lambda i, n, k: U8S8), "int8"
    if base == "u8s8_attn8":
        return pick(lambda i, n, k: U8S8), "int8"
    if base == "u8s8_attn16":
        return pick(lambda i, n, k: U8S8), "int16"
    raise ValueError(f"unknown scheme {name}")


# --- the vision tower -----------------------------------------------------------------------------------------


class Vision:
    def __init__(self, folder):
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        vision = config.get("vision_config_dict") or config.get("vision_config") or {}
        self.width = vision.get("hidden_size", 768)
        self.layers = vision.get("num_hidden_layers", 12)
        self.heads = vision.get("num_attention_heads", 12)
        self.patch = vision.get("patch_size", 32)
        self.size = vision.get("image_size", 224)
        self.eps = vision.get("layer_norm_eps", 1e-5)
        self.act = vision.get("hidden_act", "quick_gelu")
        tensors = load_file(str(folder / "model.safetensors"))
        self.w = {k: v.to(torch.float64) for k, v in tensors.items() if k.startswith(("vision_model", "visual_"))}

    def linear(self, x, weight, bias, choice):
        activation_kind, weight_kind = choice
        k = weight.shape[1]
        xq = rounding(activation_kind, k)(x)
        wq = rounding(weight_kind, k)(weight)
        y = xq @ wq.T
        return y + bias if bias is not None else y

    def activation(self, x):
        if self.act == "quick_gelu":
            return x * torch.sigmoid(1.702 * x)
        if self.act == "gelu":
            return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    def layer_norm(self, x, prefix):
        return torch.nn.functional.layer_norm(
            x, (self.width,), self.w[prefix + ".weight"], self.w[prefix + ".bias"], self.eps
        )

    def encode(self, pixels, scheme="exact"):
        choose, attention = scheme_table(scheme)
        w = self.w
        p = self.patch
        grid = self.size // p
        x = pixels.to(torch.float64)
        # im2col in (channel, y, x) order, one patch per row.
        patches = x.reshape(3, grid, p, grid, p).permute(1, 3, 0, 2, 4).reshape(grid * grid, 3 * p * p)
        conv = w["vision_model.embeddings.patch_embedding.weight"].reshape(self.width, -1)
        h = self.linear(patches, conv, None, choose(0, self.layers, "patch"))
        h = torch.cat([w["vision_model.embeddings.class_embedding"].reshape(1, -1), h], 0)
        h = h + w["vision_model.embeddings.position_embedding.weight"]
        h = self.layer_norm(h, "vision_model.pre_layrnorm")
        tokens = h.shape[0]
        hd = self.width // self.heads
        for i in range(self.layers):
            pre = f"vision_model.encoder.layers.{i}."
            a = self.layer_norm(h, pre + "layer_norm1")
            qw = torch.cat([w[pre + f"self_attn.{n}_proj.weight"] for n in "qkv"], 0)
            qb = torch.cat([w[pre + f"self_attn.{n}_proj.bias"] for n in "qkv"], 0)
            scale = torch.ones(3 * self.width, dtype=torch.float64)
            scale[: self.width] = hd**-0.5
            qkv = self.linear(a, qw * scale[:, None], qb * scale, choose(i, self.layers, "qkv"))
            q, k, v = qkv.split(self.width, dim=1)
            q = q.reshape(tokens, self.heads, hd).transpose(0, 1)
            k = k.reshape(tokens, self.heads, hd).transpose(0, 1)
            v = v.reshape(tokens, self.heads, hd).transpose(0, 1)
            if attention == "bf16":
                q, k, v = bf16(q), bf16(k), bf16(v)
            elif attention == "int8":
                # Q per query token u8 with a zero point, K per key token s8; V per head channel s8.
                q, k, v = asymmetric_u8(q), symmetric(k, 127), symmetric(v.transpose(1, 2), 127).transpose(1, 2)
            elif attention == "int16":
                q, k = symmetric(q, levels16(hd)), symmetric(k, levels16(hd))
                v = symmetric(v.transpose(1, 2), levels16(tokens)).transpose(1, 2)
            scores = torch.softmax(q @ k.transpose(1, 2), dim=-1)
            if attention == "bf16":
                scores = bf16(scores)
            elif attention == "int8":
                scores = asymmetric_u8(scores)
            elif attention == "int16":
                scores = symmetric(scores, levels16(tokens))
            context = (scores @ v).transpose(0, 1).reshape(tokens, self.width)
            h = h + self.linear(
                context, w[pre + "self_attn.out_proj.weight"], w[pre + "self_attn.out_proj.bias"],
                choose(i, self.layers, "out"),
            )
            a = self.layer_norm(h, pre + "layer_norm2")
            a = self.activation(
                self.linear(a, w[pre + "mlp.fc1.weight"], w[pre + "mlp.fc1.bias"], choose(i, self.layers, "fc1"))
            )
            h = h + self.linear(a, w[pre + "mlp.fc2.weight"], w[pre + "mlp.fc2.bias"], choose(i, self.layers, "fc2"))
        pooled = self.layer_norm(h[0:1], "vision_model.post_layernorm")
        return (pooled @ w["visual_projection.weight"].T)[0]


# --- images ---------------------------------------------------------------------------------------------------


def preprocess(image, size):
    """Shortest side to `size` (bicubic), centre crop, normalise: CLIP's preprocessing (Pillow's resampler)."""
    image = image.convert("RGB")
    w, h = image.size
    scale = size / min(w, h)
    image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    image = image.crop((left, top, left + size, top + size))
    a = np.asarray(image, dtype=np.float32) / 255
    a = (a - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


def varied_frame(seed, size):
    """Smooth gradients, blocks and noise that differ with the seed (as clipcam bench's check frames)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640]
    noise = rng.integers(0, 32, size=(480, 640))
    block = ((x // (40 + 8 * seed)) + (y // (30 + 5 * seed))) % 2 * 60
    b = (x * (seed + 1) // 5 + block + noise) % 256
    g = (y * (seed + 2) // 4 + noise) % 256
    r = ((x + y) * (7 - seed % 7) // 9 + block) % 256
    rgb = np.stack([r, g, b], axis=-1).astype(np.uint8)
    return preprocess(Image.fromarray(rgb), size)


def images(size, frames):
    found = [preprocess(Image.open(path), size) for path in sorted(IMAGES.glob("*.png"))]
    found += [varied_frame(seed, size) for seed in range(frames)]
    rng = np.random.default_rng(1234)
    found += [preprocess(Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)), size)]
    return found


def cosine(a, b):
    return float((a @ b) / (a.norm() * b.norm()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument(
        "--schemes",
        default="int16,u8s8,s8s8,w8a16,mlp8,fc1_8,fc2_8,qkv_8,u8s8_edge16,bf16,bf16_attn,u8s8_bf16attn,u8s8_patch8",
    )
    parser.add_argument("--frames", type=int, default=8, help="seeded varied frames besides the fixture images")
    parser.add_argument("--check", action="store_true", help="compare the exact run with transformers' output")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    schemes = args.schemes.split(",")
    torch.set_num_threads(1)
    results = {}
    for folder in args.models:
        model = Vision(folder)
        pictures = images(model.size, args.frames)
        exact = [model.encode(p) for p in pictures]
        if args.check:
            from transformers import CLIPModel

            reference = CLIPModel.from_pretrained(folder).eval()
            with torch.no_grad():
                out = reference.get_image_features(pixel_values=torch.stack(pictures))
            out = getattr(out, "pooler_output", out)
            worst = min(cosine(out[i].double(), exact[i]) for i in range(len(pictures)))
            print(f"{folder}: float64 tower vs transformers, min cosine {worst:.9f}", file=sys.stderr)
        row = {}
        for scheme in schemes:
            cosines = [cosine(model.encode(p, scheme), e) for p, e in zip(pictures, exact)]
            row[scheme] = {"min": min(cosines), "median": float(np.median(cosines))}
            print(f"{Path(folder).name:28} {scheme:16} min {min(cosines):.6f}  median {np.median(cosines):.6f}",
                  file=sys.stderr, flush=True)
        results[Path(folder).name] = row
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
