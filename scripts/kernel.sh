#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build a guest kernel out of tree, incrementally.
#
# The configuration is 'make tinyconfig' plus the given Kconfig fragments,
# merged with the kernel's scripts/kconfig/merge_config.sh. Every option a
# fragment sets must survive olddefconfig, unless the tree does not know
# the symbol at all (a baseline tree without the series).
#
# Usage: kernel.sh [-s SRC | -T] [-O OBJDIR] [-o BZIMAGE] [-t TARGET] FRAGMENT...
#   -s SRC      kernel tree            (default: build/linux)
#   -T          build the test tree build/linux-test: build/linux's master
#               plus the test-only patches of guest/kernel/, synced first
#               by scripts/test-tree.sh (only changed files are rewritten)
#   -O OBJDIR   build directory        (default: build/obj/test)
#   -o BZIMAGE  copy the image here    (default: none)
#   -t TARGET   make target            (default: bzImage)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$LINUX obj=$BUILD/obj/test dest= target=bzImage
while getopts s:TO:o:t: opt; do
	case $opt in
	s) src=$OPTARG ;;
	T) src=$("$TOP/scripts/test-tree.sh") ;;
	O) obj=$OPTARG ;;
	o) dest=$OPTARG ;;
	t) target=$OPTARG ;;
	*) die "usage: kernel.sh [-s SRC | -T] [-O OBJDIR] [-o BZIMAGE] [-t TARGET] FRAGMENT..." ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || die "no config fragment given"
[ -f "$src/Makefile" ] || die "no kernel tree at $src (run 'make tree')"
frags=()
for f in "$@"; do
	frags+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
done
mkdir -p "$obj"
obj=$(cd "$obj" && pwd)
jobs=${JOBS:-$(nproc)}

kmake() {
	make -s -C "$src" O="$obj" "$@"
}

# Regenerate .config only when a fragment or a Kconfig file is newer than
# it, so that an unchanged configuration costs nothing.
stamp=$obj/.config-fragments
if [ -f "$obj/.config" ] && [ -f "$stamp" ] &&
   [ "$(cat "$stamp")" = "${frags[*]}" ] &&
   [ -z "$(find "${frags[@]}" "$src" -name 'Kconfig*' -newer "$obj/.config" -print -quit 2>/dev/null)" ] &&
   [ -z "$(find "${frags[@]}" -newer "$obj/.config" -print -quit)" ]; then
	:
else
	kmake tinyconfig >/dev/null
	(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" "${frags[@]}") >/dev/null
	kmake olddefconfig >/dev/null

	# Check that each requested option made it, for symbols this tree has.
	known=$(cd "$src" && find . -name 'Kconfig*' -not -path './tools/*' -print0 |
		xargs -0 sed -n 's/^[[:space:]]*\(menu\)\{0,1\}config[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\2/p' |
		sort -u)
	# The last fragment that sets a symbol wins, as in merge_config.sh.
	declare -A want=()
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) want[${line%%=*}]=${line#*=} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; want[${sym%% *}]=n ;;
		esac
	done < <(cat "${frags[@]}")
	bad=0
	for sym in "${!want[@]}"; do
		grep -qx "${sym#CONFIG_}" <<<"$known" || continue
		val=${want[$sym]}
		if [ "$val" = n ]; then
			grep -q "^$sym=" "$obj/.config" || continue
		else
			grep -qx "$sym=$val" "$obj/.config" && continue
		fi
		echo "kernel.sh: $sym=$val requested, .config has:" \
			"$(grep "^$sym=\|^# $sym " "$obj/.config" || echo nothing)" >&2
		bad=1
	done
	[ $bad -eq 0 ] || die "configuration does not match the fragments"
	echo "${frags[*]}" > "$stamp"
fi

log "building $target in $obj"
kmake -j"$jobs" "$target"
if [ -n "$dest" ]; then
	mkdir -p "$(dirname "$dest")"
	cp "$obj/arch/x86/boot/bzImage" "$dest"
	log "$dest: $(kmake -s kernelrelease)"
fi
