#!/usr/bin/env python3
"""PyTorch's scaled_dot_product_attention (causal, bf16, GQA) timed on the shapes
dev/cuda/bench_attention.cu measures, for its "vs SDPA" column. Prints one line per
shape: T NH NKV HS forward_ms backward_ms (B = 16384 / T, as the benchmark uses).
bench_attention runs it; alone: python3 dev/cuda/bench_attention_sdpa.py"""
import sys

import torch
import torch.nn.functional as F

SHAPES = [(T, NH, NKV, HS) for T in (1024, 2048, 4096, 8192) for (NH, NKV, HS) in ((12, 12, 64), (32, 8, 128))]


def attention(q, k, v):
    group = q.shape[1] // k.shape[1]
    if group > 1:  # torch before 2.5 has no enable_gqa: repeat the kv heads instead
        try:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        except TypeError:
            k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def time_ms(f, repeats=5):
    f()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        f()
    stop.record()
    torch.cuda.synchronize()
    return start.elapsed_time(stop) / repeats


def main():
    if not torch.cuda.is_available():
        sys.exit("bench_attention_sdpa: torch sees no CUDA device")
    for T, NH, NKV, HS in SHAPES:
        B = 16384 // T
        opts = dict(device="cuda", dtype=torch.bfloat16, requires_grad=True)
        q, k, v = (torch.randn(B, heads, T, HS, **opts) for heads in (NH, NKV, NKV))
        dout = torch.randn(B, NH, T, HS, device="cuda", dtype=torch.bfloat16)
        fwd = time_ms(lambda: attention(q, k, v))
        out = attention(q, k, v)
        bwd = time_ms(lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True))
        print(T, NH, NKV, HS, f"{fwd:.5f}", f"{bwd:.5f}", flush=True)


if __name__ == "__main__":
    main()
