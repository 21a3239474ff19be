#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Create build/linux: a git repository of the pristine kernel source,
# committed and tagged 'base', with patches/ applied on top by 'git am'.
#
# Refuses to replace an existing tree that holds work not exported to
# patches/ yet (uncommitted changes, or commits that 'series.sh' would
# export differently). FORCE=1 overrides.
#
# With --ensure, do nothing when the tree exists and was made from the
# same source (KERNEL_SRC, or Debian's package), so that every target can
# call it.
#
# Usage: tree.sh [--ensure]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ensure=0
[ "${1:-}" = --ensure ] && ensure=1 && shift
[ $# -eq 0 ] || die "usage: tree.sh [--ensure]"
src=$("$TOP/scripts/fetch-source.sh")
if [ $ensure = 1 ] && [ -d "$LINUX/.git" ] &&
   [ "$(cat "$LINUX/.git/paravirt-source" 2>/dev/null)" = "$src" ]; then
	exit 0
fi


if [ -d "$LINUX/.git" ] && [ "${FORCE:-0}" != 1 ]; then
	dirty=$(git -C "$LINUX" status --porcelain | head -n5)
	[ -z "$dirty" ] || die "$LINUX has uncommitted changes:
$dirty
commit and run 'make series', or rerun with FORCE=1 to discard them"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	"$TOP/scripts/series.sh" --out "$tmp" >/dev/null
	if ! diff -r -q "$tmp" "$TOP/patches" >/dev/null; then
		die "$LINUX holds commits not exported to patches/ (run 'make series'),
or patches/ changed since the tree was made; FORCE=1 discards the tree"
	fi
fi

log "creating $LINUX from $src"
rm -rf "$LINUX"
mkdir -p "$LINUX"
tar -C "$src" --exclude=./.git --exclude=./.unpacked -cf - . | tar -C "$LINUX" -xf -

cd "$LINUX"
git init -q -b master
echo "$src" > .git/paravirt-source
# New commits and the cover letter are signed by the series' identity
# unless GIT_USER_NAME/GIT_USER_EMAIL say otherwise.
git config user.name "${GIT_USER_NAME:-Paravirt Sched Team}"
git config user.email "${GIT_USER_EMAIL:-paravirt-sched@example.org}"
git config core.abbrev 12
# Debian's tarball ends its .gitignore with a packaging rule that ignores
# every top-level entry ('/*', '!/debian/'); new files in the tree would be
# invisible to git. Drop that rule in the base commit; nothing in the
# series touches .gitignore.
python3 - <<'PY'
import re
s = open(".gitignore").read()
s = re.sub(r"\n*#\n# Debian packaging.*\Z", "\n", s, flags=re.S)
open(".gitignore", "w").write(s)
PY
git add -A
ver=$(make -s kernelversion 2>/dev/null || echo unknown)
# A fixed identity and date give the base commit the same hash everywhere;
# 'git am --committer-date-is-author-date' below does the same for the
# series' commits.
GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
GIT_AUTHOR_NAME=base GIT_AUTHOR_EMAIL=base@localhost \
GIT_COMMITTER_NAME=base GIT_COMMITTER_EMAIL=base@localhost \
	git commit -q -m "base: linux $ver (pristine source)"
git tag base

if [ -s "$TOP/patches/series" ]; then
	cover=$TOP/patches/0000-cover-letter.patch
	if [ -f "$cover" ]; then
		# The cover letter's subject and text live in the branch
		# description, which 'series.sh' turns back into the cover.
		python3 "$TOP/scripts/cover.py" read "$cover" > "$LINUX/.git/description.txt"
		git config branch.master.description "$(cat "$LINUX/.git/description.txt")"
	fi
	mapfile -t patches < <(grep -v -e '^#' -e '^$' -e '^0000-' "$TOP/patches/series")
	if [ ${#patches[@]} -gt 0 ]; then
		log "applying ${#patches[@]} patches"
		git am -q --committer-date-is-author-date \
			"${patches[@]/#/$TOP/patches/}" ||
			die "git am failed; see 'git -C $LINUX am --show-current-patch'"
	fi
fi
log "$LINUX: $(git rev-list --count base..HEAD) commits on base"
