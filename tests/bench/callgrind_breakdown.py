#!/usr/bin/python3
"""Where the instructions a shim adds per iteration go, for scripts/bench.sh: takes four
callgrind output files (plain at N and 2N iterations, traced at N and 2N), computes each
function's own instructions per iteration ((2N - N) / N, so start-up cancels) in both
runs, and prints the functions whose count changed most: the shim's own functions and the
libc functions it calls. Uses callgrind_annotate, no other parsing of the format.
Usage: callgrind_breakdown.py N PLAIN_N PLAIN_2N TRACED_N TRACED_2N [TOP]"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([\s\d.%]+\)\s+)?(\S.*?)\s*$")


def self_costs(path):
    """function -> exclusive Ir, from callgrind_annotate's flat profile."""
    output = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", path],
                            check=True, capture_output=True, text=True).stdout
    costs = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("Ir") and "file:function" in line:
            in_table = True
            continue
        if not in_table or line.startswith("-") or not line.strip():
            continue
        match = LINE.match(line)
        if match:
            name = match.group(2).split(" [")[0]
            costs[name] = costs.get(name, 0) + int(match.group(1).replace(",", ""))
    return costs


def per_iteration(n, once, twice):
    small, large = self_costs(once), self_costs(twice)
    return {name: (large.get(name, 0) - small.get(name, 0)) / n for name in set(small) | set(large)}


def main():
    n = int(sys.argv[1])
    plain = per_iteration(n, sys.argv[2], sys.argv[3])
    traced = per_iteration(n, sys.argv[4], sys.argv[5])
    top = int(sys.argv[6]) if len(sys.argv) > 6 else 25
    delta = {name: traced.get(name, 0) - plain.get(name, 0) for name in set(plain) | set(traced)}
    total = sum(delta.values())
    print(f"  added per iteration: {total:,.0f} Ir (plain {sum(plain.values()):,.0f})")
    shown = 0
    for name, added in sorted(delta.items(), key=lambda item: -abs(item[1])):
        if shown == top or abs(added) < 1:
            break
        print(f"  {added:+9,.0f}  {name}")
        shown += 1


if __name__ == "__main__":
    main()
