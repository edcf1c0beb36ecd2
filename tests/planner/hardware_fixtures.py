"""GPU specs for the planner tests, from the vendors' datasheets, until presets/gpus.yaml lands.

A100 SXM 80GB: NVIDIA A100 datasheet (2021): 312 TFLOP/s dense BF16, 19.5 FP32, 2,039 GB/s HBM2e,
NVLink 3 600 GB/s bidirectional; DGX A100: 8x 200 Gb/s HDR InfiniBand. 80 GiB of HBM.
H100 SXM 80GB: NVIDIA H100 datasheet (2023): 989 TFLOP/s dense BF16, 67 FP32, 3.35 TB/s HBM3,
NVLink 4 900 GB/s bidirectional; DGX H100: 8x 400 Gb/s NDR. nvidia-smi reports 81,559 MiB.
"""

from __future__ import annotations

from planner.schema import GpuSpec

GIB = 1024**3


def _load_preset(name: str) -> GpuSpec | None:
    try:  # helper A's loader, once it exists
        from presets import get_gpu  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        return get_gpu(name)
    except Exception:  # noqa: BLE001 - fall back to the datasheet figures below
        return None


A100_80GB = GpuSpec(
    name="A100-SXM-80GB", memory_bytes=80 * GIB, peak_bf16_flops=312e12, peak_fp16_flops=312e12,
    peak_fp32_flops=19.5e12, memory_bandwidth_bytes_per_s=2.039e12,
    intra_node_bandwidth_bytes_per_s=300e9, inter_node_bandwidth_bytes_per_s=25e9, tdp_w=400,
    price_per_hour_usd=1.8, purchase_usd=20000, framework_overhead_bytes=2 * GIB,
    source="NVIDIA A100 datasheet 2021; DGX A100 architecture white paper", date="2021-06",
)
H100_80GB = GpuSpec(
    name="H100-SXM-80GB", memory_bytes=81559 * 1024**2, peak_bf16_flops=989e12, peak_fp16_flops=989e12,
    peak_fp32_flops=67e12, memory_bandwidth_bytes_per_s=3.35e12,
    intra_node_bandwidth_bytes_per_s=450e9, inter_node_bandwidth_bytes_per_s=50e9, tdp_w=700,
    price_per_hour_usd=2.5, purchase_usd=35000, framework_overhead_bytes=2 * GIB,
    source="NVIDIA H100 datasheet 2023; DGX H100 datasheet", date="2023-03",
)
