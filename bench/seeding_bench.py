"""Seeding benchmark: generation time (CPU only) and seeding throughput per scale, as a markdown table.

    python bench/seeding_bench.py [--scales small default full]

Each scale seeds into a fresh embedded engine in a temporary directory (or into MONGODB_URI, in
a scratch database that is dropped afterwards), as a separate `python -m seeding` process so its
peak memory can be read. Not a test: numbers depend on the machine; record them in the README.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seeding.catalog_loader import load_catalog  # noqa: E402
from seeding.generate import Generator  # noqa: E402

AS_OF = date(2026, 11, 1)


def generation_seconds(scale: str) -> tuple[float, int]:
    started = time.perf_counter()
    generator = Generator(load_catalog(), scale=scale, seed=1, as_of=AS_OF)
    count = sum(len(b) for b in generator.customer_batches())
    for _, orders, lines in generator.order_chunks():
        count += len(orders) + len(lines)
    count += len(generator.inventory_documents())
    return time.perf_counter() - started, count


def seed(scale: str) -> dict[str, str]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="zava-bench-") as tmp:
        if not env.get("MONGODB_URI"):
            env["ZAVA_DATA_DIR"] = tmp
        env["MONGODB_DATABASE"] = f"zava_bench_{scale}"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "seeding", "--scale", scale, "--as-of", AS_OF.isoformat(),
                              "--drop", "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
        if not env.get("MONGODB_URI"):
            subprocess.run([sys.executable, "-m", "zava_core.infra.embedded", "stop"], cwd=ROOT, env=env,
                           capture_output=True, check=False)
    result = {"wall": f"{wall:.1f}", "peak_mb": f"{peak_mb:.0f}"}
    for line in out.stdout.splitlines():
        if m := re.match(r"\s+(orders|order_items|customers)\s+([\d,]+)\s+([\d.]+) s\s+([\d,]+)/s", line):
            result[m.group(1)] = f"{m.group(2)} in {m.group(3)} s"
        if m := re.search(r"indexes: \d+ ensured in ([\d.]+) s", line):
            result["indexes"] = m.group(1)
        if m := re.match(r"seeded ([\d,]+) documents", line):
            result["documents"] = m.group(1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", nargs="+", default=["small", "default"], choices=["small", "default", "full"])
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{'MONGODB_URI' if os.environ.get('MONGODB_URI') else 'embedded engine'}, {date.today()}\n")
    print("| scale | documents | generation (CPU) | seeding wall | orders | order_items | indexes | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for scale in args.scales:
        gen_s, _ = generation_seconds(scale)
        r = seed(scale)
        print(f"| {scale} | {r.get('documents', '?')} | {gen_s:.1f} s | {r['wall']} s | {r.get('orders', '?')} | "
              f"{r.get('order_items', '?')} | {r.get('indexes', '?')} s | {r['peak_mb']} MB |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
