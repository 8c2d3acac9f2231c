"""Start-up time of `talentwatch validate`, two installs side by side (interleaved runs).

    python bench/startup.py BEFORE_BIN AFTER_BIN CONFIG [--runs N]

BEFORE_BIN and AFTER_BIN are `talentwatch` executables of two installs (for example an
older commit's venv and this one's); CONFIG is a config file both accept. Prints the
median wall time of each and the ratio after/before.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("config")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.runs):
        for name, exe in (("before", args.before), ("after", args.after)):
            start = time.perf_counter()
            subprocess.run([exe, "--config", args.config, "validate"], check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.3f} s (min {min(values):.3f}, n={len(values)})")
    before, after = (statistics.median(times[k]) for k in ("before", "after"))
    print(f"ratio after/before: {after / before:.2f}")


if __name__ == "__main__":
    main()
