#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Create or sync build/linux-test, the tree the test kernel is built from:
# build/linux's master branch (the series) plus the test-only kernel
# patches of guest/kernel/*.patch (test infrastructure that is not part of
# the series, such as the ivshmem steal clock; see README.md "Real steal in
# the test guest").
#
# build/linux-test is a detached git worktree of build/linux; do not edit
# it, its changes are discarded at the next sync. The commits on top of
# master are made without touching any work tree (git apply --cached on a
# temporary index, then commit-tree) and the worktree is then checked out
# to them, so that only the files that differ from the last sync are
# rewritten and an incremental build stays incremental. Nothing is written
# to build/linux's branch or work tree.
#
# TEST_TREE_UNCOMMITTED=1 starts from build/linux's HEAD plus the
# uncommitted changes of its tracked files (read without taking any lock
# in build/linux), instead of the master branch: to test work not committed
# yet. Untracked files are not included.
#
# Usage: test-tree.sh            prints the worktree's path on stdout
set -euo pipefail
. "$(dirname "$0")/lib.sh"

wt=${LINUX_TEST:-$BUILD/linux-test}
[ -d "$LINUX/.git" ] || die "no tree at $LINUX (run 'make tree')"
pdir=${TEST_PATCHES:-$TOP/guest/kernel}
mapfile -t patches < <(find "$pdir" -maxdepth 1 -name '*.patch' 2>/dev/null | sort)
head=$(git -C "$LINUX" rev-parse --verify -q refs/heads/master^{commit}) ||
	die "$LINUX has no master branch"

# The commit to build: master plus the test-only patches. The fixed dates
# give the same commit for the same inputs.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GIT_OPTIONAL_LOCKS=0
# A fixed committer: the commits do not depend on the user's git identity.
export GIT_COMMITTER_NAME=test-tree GIT_COMMITTER_EMAIL=test-tree@localhost
what="master $(git -C "$LINUX" rev-parse --short "$head")"
if [ "${TEST_TREE_UNCOMMITTED:-0}" = 1 ]; then
	head=$(git -C "$LINUX" rev-parse --verify HEAD)
	git -C "$LINUX" diff --binary HEAD > "$tmp/uncommitted"
	what="HEAD $(git -C "$LINUX" rev-parse --short HEAD)"
	if [ -s "$tmp/uncommitted" ]; then
		GIT_INDEX_FILE=$tmp/index git -C "$LINUX" read-tree "$head"
		GIT_INDEX_FILE=$tmp/index git -C "$LINUX" apply --cached "$tmp/uncommitted"
		head=$(GIT_INDEX_FILE=$tmp/index git -C "$LINUX" write-tree |
			xargs git -C "$LINUX" commit-tree -p "$head" -m "uncommitted changes")
		what="$what + uncommitted changes"
	fi
fi
commit=$head
if [ ${#patches[@]} -gt 0 ]; then
	export GIT_INDEX_FILE=$tmp/index
	git -C "$LINUX" read-tree "$head"
	for p in "${patches[@]}"; do
		git -C "$LINUX" apply --cached "$p" ||
			die "test-only patch ${p#"$TOP"/} does not apply on master"
		git -C "$LINUX" mailinfo "$tmp/msg" "$tmp/diff" < "$p" > "$tmp/info"
		subject=$(sed -n 's/^Subject: //p' "$tmp/info")
		tree=$(git -C "$LINUX" write-tree)
		commit=$(printf '%s\n\n%s' "$subject" "$(cat "$tmp/msg")" |
			GIT_AUTHOR_NAME="$(sed -n 's/^Author: //p' "$tmp/info")" \
			GIT_AUTHOR_EMAIL="$(sed -n 's/^Email: //p' "$tmp/info")" \
			GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" \
			GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
			git -C "$LINUX" commit-tree "$tree" -p "$commit")
	done
	unset GIT_INDEX_FILE
fi

attached() {
	[ -e "$wt/.git" ] &&
	[ "$(cd "$wt" && git rev-parse --path-format=absolute --git-common-dir 2>/dev/null)" = \
	  "$(cd "$LINUX" && git rev-parse --path-format=absolute --git-common-dir)" ]
}

if [ ! -e "$wt" ]; then
	log "creating $wt (master + ${#patches[@]} test-only patches)"
	git -C "$LINUX" worktree prune
	git -C "$LINUX" worktree add -q --detach "$wt" "$commit"
elif ! attached; then
	# build/linux was recreated: attach the old files to a new worktree
	# and rewrite only the files that differ, so that the objects built
	# from them stay valid.
	log "re-attaching $wt to $LINUX"
	rm -rf "$wt.old"
	mv "$wt" "$wt.old"
	rm -rf "$wt.old/.git"
	git -C "$LINUX" worktree prune
	git -C "$LINUX" worktree add -q --no-checkout --detach "$wt" "$commit"
	mv "$wt/.git" "$wt.old/.git"
	rmdir "$wt"
	mv "$wt.old" "$wt"
	git -C "$wt" reset -q
	git -C "$wt" checkout -q -f --detach "$commit"
elif [ "$(git -C "$wt" rev-parse HEAD)" != "$commit" ] ||
     [ -n "$(git -C "$wt" status --porcelain --untracked-files=no)" ]; then
	dirty=$(git -C "$wt" status --porcelain --untracked-files=no | head -n5)
	[ -z "$dirty" ] || echo "test-tree.sh: discarding changes in $wt:"$'\n'"$dirty" >&2
	log "syncing $wt to $what + ${#patches[@]} test-only patches"
	git -C "$wt" checkout -q -f --detach "$commit"
fi
echo "$wt"
