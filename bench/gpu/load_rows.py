#!/usr/bin/env python3
"""
Measures SGLang v0.4's HiCache host->device load path, layer by layer, and prints CSV rows for
`kvflow calibrate --load-from rows.csv` (columns bytes,layers,seconds,stage).

Needs a CUDA GPU and PyTorch; SGLang itself is optional. The path measured is the one in SGLang v0.4's
managers/cache_controller.py (load_thread_func_layer_by_layer) and mem_cache/memory_pool.py
(MHATokenToKVPoolHost.get_flat_data_by_layer + MHATokenToKVPool.transfer_per_layer): for each layer,
index the pinned host KV buffer with the token indices (a CPU gather into a new, unpinned tensor), copy
that tensor to the device, scatter it into the device buffer, and synchronise. (The post-PR #7313
`kernel` path needs sgl_kernel's kvcacheio ops; time its per-layer call in the `load` loop the same way
and fit `load` rows only.)

Three stages per size, so the fit can separate them:
  gather: the per-layer host gathers alone;
  copy:   the per-layer copies + synchronisations of already gathered tensors;
  load:   the whole path.

Not run in CI (no GPU there). Example:
  python3 bench/gpu/load_rows.py --layers 32 --kv-heads 8 --head-dim 128 > rows.csv
  kvflow calibrate --load-from rows.csv --gpu A10G --out load.json
  kvflow simulate --workload workloads/paper/sequential-8192.json --config load.json
"""
import argparse
import sys
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=32, help="model layers (Llama-3.1-8B: 32)")
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--host-tokens", type=int, default=200_000, help="host pool size in tokens")
    parser.add_argument("--sizes", default="256,1024,4096,16384,65536", help="tokens per load, comma list")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("load_rows.py: no CUDA device")
    device = torch.device("cuda")
    dtype = torch.bfloat16
    L, H, D = args.layers, args.kv_heads, args.head_dim
    # SGLang v0.4's host pool: one pinned buffer [2, layers, tokens, heads, dim].
    host = torch.empty((2, L, args.host_tokens, H, D), dtype=dtype, pin_memory=True)
    host.normal_()
    device_k = [torch.empty((args.host_tokens, H, D), dtype=dtype, device=device) for _ in range(L)]
    device_v = [torch.empty((args.host_tokens, H, D), dtype=dtype, device=device) for _ in range(L)]
    bytes_per_token_layer = 2 * H * D * host.element_size()
    print("bytes,layers,seconds,stage")
    for tokens in (int(t) for t in args.sizes.split(",")):
        # Scattered rows, as a radix cache's host indices are.
        indices = torch.randperm(args.host_tokens)[:tokens]
        device_indices = torch.randperm(args.host_tokens, device=device)[:tokens]
        total = tokens * bytes_per_token_layer * L
        for _ in range(args.repeats):
            torch.cuda.synchronize()
            start = time.perf_counter()
            flats = [host[:, layer, indices] for layer in range(L)]  # CPU gather, unpinned result
            gather = time.perf_counter() - start
            print(f"{total},{L},{gather:.9f},gather")
            torch.cuda.synchronize()
            start = time.perf_counter()
            for layer in range(L):
                data = flats[layer].to(device)
                device_k[layer][device_indices] = data[0]
                device_v[layer][device_indices] = data[1]
                torch.cuda.synchronize()
            print(f"{total},{L},{time.perf_counter() - start:.9f},copy")
            torch.cuda.synchronize()
            start = time.perf_counter()
            for layer in range(L):
                data = host[:, layer, indices].to(device)
                device_k[layer][device_indices] = data[0]
                device_v[layer][device_indices] = data[1]
                torch.cuda.synchronize()
            print(f"{total},{L},{time.perf_counter() - start:.9f},load")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
