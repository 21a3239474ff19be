#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Export base..HEAD of build/linux as a format-patch series with a cover
# letter and a 'series' file. The output is deterministic: a patch whose
# commit did not change stays byte-identical (zeroed commit ids, no
# signature, the cover letter dated by the newest commit's author date).
#
# The cover letter's subject and text come from the branch description
# ('git branch --edit-description' in build/linux).
#
# Usage: series.sh [--out DIR]      (default: patches/)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$TOP/patches
if [ "${1:-}" = "--out" ]; then
	out=$2
	shift 2
fi
[ $# -eq 0 ] || die "usage: series.sh [--out DIR]"
[ -d "$LINUX/.git" ] || die "no tree at $LINUX; run 'make tree'"

cd "$LINUX"
branch=$(git symbolic-ref --short HEAD)
n=$(git rev-list --count base..HEAD)
[ "$n" -gt 0 ] || die "no commits on top of base"
git config "branch.$branch.description" >/dev/null ||
	die "no cover letter text: run 'git branch --edit-description' in $LINUX"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GIT_COMMITTER_DATE=$(git log -1 --format=%aI HEAD) \
git format-patch -q --zero-commit --no-signature --cover-letter \
	--cover-from-description=subject \
	-o "$tmp" base..HEAD
( cd "$tmp" && ls -1 -- *.patch ) > "$tmp/series"

mkdir -p "$out"
# Replace only what changed, so unchanged files keep their timestamps too.
for f in "$tmp"/*; do
	cmp -s "$f" "$out/${f##*/}" || cp "$f" "$out/"
done
for f in "$out"/*; do
	[ -e "$tmp/${f##*/}" ] || rm -f "$f"
done
echo "$out: $n patches + cover letter"
