#!/usr/bin/env python3
"""PyTorch reference for dev/bench_e2e.sh: trains the same model on the same
batch as scpt's `train` the way a PyTorch user would make it fast (torch.compile,
SDPA flash attention, bf16 autocast, fused AdamW, gradient clipping) and prints
tokens/s and MFU counted as bench_e2e.sh counts them. Random tokens: throughput
does not depend on the data. Only the benchmark uses PyTorch; scpt does not."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# the shapes of scpt's presets (src/model/config.c); vocab padded to a multiple of 128 as scpt pads it
CONFIGS = {
    "gpt2-124m": dict(gpt2=True, vocab=50257, padded=50304, L=12, NH=12, NKV=12, C=768, H=3072),
    "llama3.2-1b": dict(gpt2=False, vocab=128256, padded=128256, L=16, NH=32, NKV=8, C=2048, H=8192, theta=500000.0),
    "llama3-8b": dict(gpt2=False, vocab=128256, padded=128256, L=32, NH=32, NKV=8, C=4096, H=14336, theta=500000.0,
                      untied=True),
}


def rope_table(T, hs, theta, device):
    freqs = 1.0 / theta ** (torch.arange(0, hs, 2, device=device).float() / hs)
    angles = torch.outer(torch.arange(T, device=device).float(), freqs)
    return torch.polar(torch.ones_like(angles), angles)  # [T, hs/2], rotates adjacent pairs


def apply_rope(x, table):  # x [B, T, heads, hs]
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * table[None, :, None, :]).flatten(3).type_as(x)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c, C, bias = c, c["C"], c["gpt2"]
        self.hs = C // c["NH"]
        norm = (lambda: nn.LayerNorm(C)) if c["gpt2"] else (lambda: nn.RMSNorm(C, eps=1e-5))
        self.norm1, self.norm2 = norm(), norm()
        self.qkv = nn.Linear(C, (c["NH"] + 2 * c["NKV"]) * self.hs, bias=bias)
        self.proj = nn.Linear(C, C, bias=bias)
        self.fc = nn.Linear(C, c["H"] * (1 if c["gpt2"] else 2), bias=bias)
        self.fcproj = nn.Linear(c["H"], C, bias=bias)

    def forward(self, x, rope):
        B, T, C = x.shape
        NH, NKV, hs = self.c["NH"], self.c["NKV"], self.hs
        q, k, v = self.qkv(self.norm1(x)).split([NH * hs, NKV * hs, NKV * hs], dim=-1)
        q, k, v = q.view(B, T, NH, hs), k.view(B, T, NKV, hs), v.view(B, T, NKV, hs)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        if NKV != NH:  # grouped-query attention: each kv head serves NH / NKV query heads
            k, v = k.repeat_interleave(NH // NKV, dim=1), v.repeat_interleave(NH // NKV, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        h = self.fc(self.norm2(x))
        if self.c["gpt2"]:
            h = F.gelu(h, approximate="tanh")
        else:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        return x + self.fcproj(h)


class Model(nn.Module):
    def __init__(self, c, T):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c["padded"], c["C"])
        self.wpe = nn.Embedding(T, c["C"]) if c["gpt2"] else None
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["L"]))
        self.norm_f = nn.LayerNorm(c["C"]) if c["gpt2"] else nn.RMSNorm(c["C"], eps=1e-5)
        self.head = nn.Linear(c["C"], c["padded"], bias=False)
        if not c.get("untied"):
            self.head.weight = self.wte.weight  # tied, as in the GPT-2 and Llama 3.2 presets
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        self.register_buffer("rope", None if c["gpt2"] else rope_table(T, c["C"] // c["NH"], c["theta"], "cpu"),
                             persistent=False)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x, self.rope)
        logits = self.head(self.norm_f(x))
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))


def matmul_weights(model):
    """weights of every nn.Linear, the tied head once: N of 6N"""
    seen = {}
    for m in model.modules():
        if isinstance(m, nn.Linear):
            seen[id(m.weight)] = m.weight.numel()
    return sum(seen.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="gpt2-124m", choices=sorted(CONFIGS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--layers", type=int, default=0, help="the preset cut to this many layers (0: all), as train's")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100 SXM, H200: 989)")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    c, B, T = dict(CONFIGS[a.model]), a.batch, a.seq
    if a.layers:
        c["L"] = a.layers
    model = Model(c, T).cuda()
    N = matmul_weights(model)
    flops_per_token = 6 * N + 12 * c["L"] * c["C"] * T
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    step_fn = torch.compile(model)
    data = torch.randint(c["vocab"], (B, T + 1), device="cuda")
    x, y = data[:, :-1].contiguous(), data[:, 1:].contiguous()
    times = []
    for step in range(a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_fn(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    timed = times[5:] if len(times) > 5 else times  # the first steps compile
    tok_s = B * T / (sum(timed) / len(timed))
    mfu = 100 * tok_s * flops_per_token / (a.peak_tflops * 1e12)
    print(f"pytorch {torch.__version__} {a.model} B={B} T={T}: {tok_s:.0f} tokens/s, "
          f"{flops_per_token:.6g} flops/token, MFU {mfu:.1f}% (loss {loss.item():.3f})")


if __name__ == "__main__":
    main()
