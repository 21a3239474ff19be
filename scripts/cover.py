#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a format-patch cover letter back into a branch description.

git format-patch --cover-from-description=subject builds the cover letter
from the branch description: its first paragraph is the subject, the rest
the text. This reads such a cover letter and prints that description, so
that the cover letter survives 'make tree' and 'make series' unchanged.

Usage: cover.py read COVER-LETTER
"""
import email.header
import re
import sys


def read(path):
    text = open(path, encoding="utf-8").read()
    head, _, body = text.partition("\n\n")
    # Unfold RFC 5322 continuation lines, then find the subject.
    head = re.sub(r"\n[ \t]+", " ", head)
    m = re.search(r"^Subject: (.*)$", head, re.M)
    if not m:
        sys.exit(f"{path}: no Subject header")
    subject = str(email.header.make_header(email.header.decode_header(m.group(1))))
    subject = re.sub(r"^\[[^]]*\]\s*", "", subject)
    # The text ends where format-patch's shortlog starts ("Name (N):").
    lines = body.split("\n")
    end = len(lines)
    for i, line in enumerate(lines):
        if re.match(r"^\S.* \(\d+\):$", line):
            end = i
            break
    text = "\n".join(lines[:end]).rstrip("\n")
    print(subject)
    if text:
        print()
        print(text)


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "read":
        sys.exit(__doc__.strip().splitlines()[-1])
    read(sys.argv[2])


if __name__ == "__main__":
    main()
