#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize the kselftest output of a guest run with the kernel's KTAP parser.

The guest prints each test program's output between the lines
'@@TEST-BEGIN@@ NAME' and '@@TEST-END@@ NAME EXIT-STATUS'. Each program's
KTAP is parsed by tools/testing/kunit/kunit_parser.py of the kernel tree.
A program that exits non-zero without a failed case, prints no KTAP or does
not finish counts as one failure.

Prints 'N passed, N failed' (', N skipped' when any) as the last line and
exits 1 when anything failed.

Each console log may carry the guest's exit status after a colon: 124
(timeout) or 125 (kernel problem, see run-guest.sh) counts as one more
failure.

Usage: ktap.py KERNEL-TREE CONSOLE-LOG[:GUEST-STATUS]...
"""
import re
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    sys.path.insert(0, sys.argv[1] + "/tools/testing/kunit")
    import kunit_parser  # pylint: disable=import-outside-toplevel

    begin = re.compile(r"@@TEST-BEGIN@@ (\S+)")
    end = re.compile(r"@@TEST-END@@ (\S+) (\d+)")
    runs, guests = [], []
    for arg in sys.argv[2:]:
        path, _, status = arg.rpartition(":") if ":" in arg else (arg, "", "0")
        guests.append((path, int(status or 0)))
        cur = None
        with open(path, errors="replace") as log:
            for line in log:
                line = line.replace("\r", "")
                m = begin.search(line)
                if m:
                    cur = {"name": m.group(1), "lines": [], "rc": None}
                    runs.append(cur)
                    continue
                m = end.search(line)
                if m and cur is not None:
                    cur["rc"] = int(m.group(2))
                    cur = None
                    continue
                if cur is not None:
                    cur["lines"].append(line)

    passed = failed = skipped = 0
    for run in runs:
        print(f"--- {run['name']}")
        test = kunit_parser.parse_run_tests(run["lines"])
        c = test.counts
        passed += c.passed
        skipped += c.skipped
        bad = c.failed + c.crashed
        if run["rc"] is None:
            print(f"{run['name']}: did not finish")
            bad = max(bad, 1)
        elif c.total() == 0:
            print(f"{run['name']}: no KTAP results (exit {run['rc']})")
            bad = 1
        elif run["rc"] not in (0, 4) and bad == 0:
            # kselftest exit codes: 0 pass, 4 skip.
            print(f"{run['name']}: exit status {run['rc']} with no failed case")
            bad = 1
        failed += bad
    if not runs:
        print("no test program ran")
        failed += 1
    for path, guest in guests:
        if guest == 124:
            print(f"guest: timed out (see {path})")
            failed += 1
        elif guest == 125:
            print(f"guest: the kernel log shows a problem (see {path})")
            failed += 1

    summary = f"{passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
