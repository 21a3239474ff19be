#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Review checks on the series in patches/:
#   1. checkpatch.pl --strict on every patch: no error, warning or check
#   2. every commit of base..HEAD builds (bisectable), incrementally
#   3. the .c files the series touches add no W=1 or sparse (C=1) warning
#      that base does not already have
#   4. the work tree (HEAD of build/linux) builds with CONFIG_SMP=n,
#      CONFIG_DEBUG_FS=n and CONFIG_SCHED_PARAVIRT=n
# The per-commit builds run in a separate worktree (build/check/linux) so
# that the work tree and its incremental build are left alone.
#
# Usage: check.sh [STEP...]       (steps: checkpatch bisect warnings configs)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(checkpatch bisect warnings configs)
cdir=$BUILD/check
wt=$cdir/linux
fail=0

[ -d "$LINUX/.git" ] || die "no tree at $LINUX (run 'make tree')"
head=$(git -C "$LINUX" rev-parse HEAD)
[ -z "$(git -C "$LINUX" status --porcelain)" ] ||
	log "note: $LINUX has uncommitted changes; checking its commits only"

worktree() {	# worktree REV: check REV out in $wt, keeping mtimes of unchanged files
	if [ ! -d "$wt" ]; then
		mkdir -p "$cdir"
		git -C "$LINUX" worktree prune
		git -C "$LINUX" worktree add -q --detach "$wt" "$1"
	else
		git -C "$wt" checkout -q --detach "$1"
	fi
}

# checkpatch findings the cover letter justifies, one per line under
# "checkpatch --strict notes:" as "  NNNN: LEVEL:TYPE: why".
justified() {
	sed -n 's/^[[:space:]]*\([0-9]\{4\}\): \(ERROR\|WARNING\|CHECK\):\([A-Z_]*\):.*/\1 \3/p' \
		"$TOP/patches/0000-cover-letter.patch" 2>/dev/null
}

step_checkpatch() {
	log "checkpatch --strict"
	local p out n ok
	ok=$(justified)
	for p in "$TOP"/patches/[0-9]*.patch; do
		n=${p##*/}
		n=${n%%-*}
		[ "$n" = 0000 ] && continue
		# checkpatch runs scripts/spdxcheck.py, which needs Debian's
		# python3-ply and python3-git: put Debian's python3 first.
		out=$(cd "$LINUX" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict \
			--no-summary --show-types --terse "$p" 2>&1 |
			while IFS= read -r line; do
				t=$(sed -n 's/^[^:]*:[0-9]*: [A-Z]*:\([A-Z_]*\):.*/\1/p' <<<"$line")
				if [ -n "$t" ] && grep -qx "$n $t" <<<"$ok"; then
					echo "    (justified in the cover letter) $line" >&2
					continue
				fi
				echo "$line"
			done) || true
		if [ -n "$out" ]; then
			echo "  FAIL  ${p##*/}:"; echo "$out" | sed 's/^/    /'
			fail=1
		else
			echo "    ok  ${p##*/}"
		fi
	done
}

step_bisect() {
	log "every commit builds"
	local c n=0
	for c in $(git -C "$LINUX" rev-list --reverse base..HEAD); do
		n=$((n + 1))
		# A commit that touches no kernel source cannot break the build.
		if ! git -C "$LINUX" diff --name-only "$c~" "$c" |
			grep -qv -e '^Documentation/' -e '^tools/' -e '^MAINTAINERS$'; then
			echo "    --  $(git -C "$LINUX" log -1 --format='%h %s' "$c") (no kernel source)"
			continue
		fi
		worktree "$c"
		# Each image is kept (bzImage-NN) to boot a partial series.
		if "$TOP/scripts/kernel.sh" -s "$wt" -O "$cdir/obj-bisect" \
			-o "$cdir/bzImage-$(printf %02d $n)" \
			"$TOP/config/guest.config" "$TOP/config/debug.config" \
			>"$cdir/bisect.log" 2>&1; then
			echo "    ok  $(git -C "$LINUX" log -1 --format='%h %s' "$c")"
		else
			echo "  FAIL  $(git -C "$LINUX" log -1 --format='%h %s' "$c")"
			grep -E 'error|warning' "$cdir/bisect.log" | head -20 | sed 's/^/    /' || true
			fail=1
		fi
	done
}

# The objects that compile the .c files the series touches: kernel/sched
# includes most of its files from build_policy.c and build_utility.c.
# The object a kernel/sched/ .c file is built into: the scheduler's files
# are included by build_policy.c or build_utility.c, some through another
# file (a KUnit test included by the file it tests).
sched_object() {
	local base=${1##*/} b inc
	for b in build_policy build_utility; do
		if grep -q "include \"$base\"" "$LINUX/kernel/sched/$b.c"; then
			echo "kernel/sched/$b.o"
			return
		fi
	done
	inc=$(grep -l "include \"$base\"" "$LINUX"/kernel/sched/*.c | head -n1 || true)
	if [ -n "$inc" ]; then
		sched_object "kernel/sched/${inc##*/}"
		return
	fi
	echo "${1%.c}.o"
}

touched_objects() {
	local f
	for f in $(git -C "$LINUX" diff --name-only base..HEAD -- '*.c' | grep -v '^tools/'); do
		if [[ $f == kernel/sched/* ]]; then
			sched_object "$f"
		else
			echo "${f%.c}.o"
		fi
	done | sort -u
}

warnings_at() {	# warnings_at REV OUTFILE OBJS...: W=1 and sparse messages, line numbers dropped
	local rev=$1 outf=$2
	shift 2
	worktree "$rev"
	"$TOP/scripts/kernel.sh" -s "$wt" -O "$cdir/obj-warn" -t prepare \
		"$TOP/config/guest.config" >/dev/null 2>&1
	local o
	for o in "$@"; do
		[ -f "$wt/${o%.o}.c" ] || continue
		rm -f "$cdir/obj-warn/$o"
		make -s -C "$wt" O="$cdir/obj-warn" W=1 C=2 "$o" 2>&1 || true
	done | grep -E 'warning:|error:' |
		sed -E 's/:[0-9]+:[0-9]+:/:/; s/:[0-9]+:/:/' | sort -u > "$outf"
}

step_warnings() {
	log "W=1 and sparse on touched files, against base"
	command -v sparse >/dev/null || die "sparse missing (scripts/deps.sh)"
	local objs
	mapfile -t objs < <(touched_objects)
	[ ${#objs[@]} -gt 0 ] || { echo "    no .c file touched"; return; }
	echo "    objects: ${objs[*]}"
	warnings_at base "$cdir/warn-base" "${objs[@]}"
	warnings_at "$head" "$cdir/warn-head" "${objs[@]}"
	local new
	new=$(comm -13 "$cdir/warn-base" "$cdir/warn-head")
	if [ -n "$new" ]; then
		echo "  FAIL  new warnings:"; echo "$new" | sed 's/^/    /'
		fail=1
	else
		echo "    ok  no new warning ($(wc -l < "$cdir/warn-base") already in base)"
	fi
}

step_configs() {
	log "builds with SMP=n, DEBUG_FS=n, SCHED_PARAVIRT=n"
	local name frags
	for name in nosmp nodebugfs noparavirt; do
		case $name in
		nosmp) frags=("$TOP/config/nosmp.config") ;;
		*) frags=("$TOP/config/guest.config" "$TOP/config/$name.config")
		   # Start from the benchmark's build of the same tree and
		   # configuration, if there is one: kbuild then rebuilds what
		   # the changed options affect.
		   if [ ! -d "$cdir/obj-$name" ] && [ -f "$BUILD/obj/bench/vmlinux" ]; then
			mkdir -p "$cdir"
			cp -a "$BUILD/obj/bench" "$cdir/obj-$name"
		   fi ;;
		esac
		if "$TOP/scripts/kernel.sh" -s "$LINUX" -O "$cdir/obj-$name" "${frags[@]}" \
			>"$cdir/$name.log" 2>&1; then
			echo "    ok  $name"
		else
			echo "  FAIL  $name (see $cdir/$name.log)"
			grep -E 'error|warning' "$cdir/$name.log" | head -20 | sed 's/^/    /' || true
			fail=1
		fi
	done
}

for s in "${steps[@]}"; do
	case $s in
	checkpatch|bisect|warnings|configs) "step_$s" ;;
	*) die "unknown step '$s'" ;;
	esac
done
[ $fail -eq 0 ] && log "check: all passed" || die "check: failures above"
