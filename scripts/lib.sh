# SPDX-License-Identifier: GPL-2.0
# Paths and helpers shared by the build scripts.  Sourced, not run.
#
# Everything built or downloaded lives under $VNUMA_CACHE, never in the
# repo, so a fresh clone reuses it and `git clean` never loses a build.

VNUMA_CACHE=${VNUMA_CACHE:-$HOME/.cache/virtio-numa}
VNUMA_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC_DIR=$VNUMA_CACHE/src		# pristine upstream trees, never edited
TREE_DIR=$VNUMA_CACHE/tree		# patched trees with our files synced in
BUILD_DIR=$VNUMA_CACHE/build		# out-of-tree build outputs
export CCACHE_DIR=${CCACHE_DIR:-$VNUMA_CACHE/ccache}
# The build-info file records the exact versions built; tests print it.
BUILD_INFO=$BUILD_DIR/versions

mkdir -p "$SRC_DIR" "$TREE_DIR" "$BUILD_DIR" "$CCACHE_DIR"

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
log() { echo "$(basename "$0"): $*"; }

# record KEY VALUE: set one line of the build-info file.
record() {
	touch "$BUILD_INFO"
	sed -i "/^$1=/d" "$BUILD_INFO"
	echo "$1=$2" >> "$BUILD_INFO"
}

# sync_files SRC_ROOT DST_ROOT FILE...: copy files whose content differs.
# Unchanged files keep their mtime so make rebuilds only what changed.
sync_files() {
	local from=$1 to=$2
	shift 2
	[ $# -gt 0 ] || return 0
	(cd "$from" && rsync -rl --checksum --relative "$@" "$to/")
}

# apply_series SERIES_DIR TREE: apply the patches listed in SERIES_DIR/series,
# in order, and name the first one that does not apply.
apply_series() {
	local dir=$1 tree=$2 p
	[ -f "$dir/series" ] || return 0
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		[ -f "$dir/$p" ] || die "series lists $dir/$p, which does not exist"
		# A patch whose diff is generated (the QEMU series' header
		# import) carries only its description here.
		grep -q '^--- ' "$dir/$p" || continue
		patch -d "$tree" -p1 -N -s --no-backup-if-mismatch -r - < "$dir/$p" > /tmp/vnuma-patch.$$ 2>&1 ||
			{ cat /tmp/vnuma-patch.$$ >&2; rm -f /tmp/vnuma-patch.$$;
			  die "patch ${dir#$VNUMA_REPO/}/$p does not apply"; }
	done < "$dir/series"
	rm -f /tmp/vnuma-patch.$$
}

# series_hash DIR: a digest of a series file and every patch it lists.
series_hash() {
	local dir=$1
	[ -f "$dir/series" ] || { echo none; return; }
	(cd "$dir" && cat series $(grep -v '^\s*\(#\|$\)' series) 2>/dev/null) |
		sha256sum | cut -c1-16
}

# stage_series PRISTINE STAGING SERIES_DIR [N]: STAGING becomes a copy of
# PRISTINE with the first N (default: all) patches of SERIES_DIR applied.
# A copy, not links: patch may write a linked file in place.  Kept between
# runs, so only the files that differ are copied.
stage_series() {
	local pristine=$1 staging=$2 dir=$3 n=${4:-} p i=0
	mkdir -p "$staging"
	rsync -a --checksum --delete "$pristine/" "$staging/"
	while read -r p; do
		[ -z "$n" ] || [ $i -lt "$n" ] || break
		i=$((i + 1))
		patch -d "$staging" -p1 -N -s --no-backup-if-mismatch -r - \
			< "$dir/$p" > /tmp/vnuma-patch.$$ 2>&1 ||
			{ cat /tmp/vnuma-patch.$$ >&2; rm -f /tmp/vnuma-patch.$$;
			  die "$p does not apply on top of the patches before it"; }
	done < "$dir/series"
	rm -f /tmp/vnuma-patch.$$
}

# libvirt_meson_args: how scripts/build-libvirt (and the series check)
# configure libvirt: just what the tests need, the QEMU driver, the
# modular virtqemud, the remote driver, virsh and the unit tests; no
# docs, no other hypervisor, network or storage driver.  -Werror as
# libvirt builds from git: a warning in our patches fails the build.
libvirt_meson_args() {
	local d args="--prefix=/usr --sysconfdir=/etc --localstatedir=/var
		--buildtype=debugoptimized -Dwerror=true -Dno_git=true -Ddocs=disabled
		-Dtests=enabled -Dexpensive_tests=disabled -Dnls=disabled
		-Ddriver_qemu=enabled -Ddriver_remote=enabled
		-Ddriver_libvirtd=enabled -Ddriver_secrets=enabled
		-Ddriver_test=enabled -Dwireshark_dissector=disabled"
	# Everything else off: a feature found on one machine and not on
	# another must not change what is built.
	for d in network lxc vbox esx hyperv openvz vmware vz ch bhyve libxl \
		 interface; do
		args="$args -Ddriver_$d=disabled"
	done
	for d in disk fs gluster iscsi iscsi_direct lvm mpath rbd scsi vstorage zfs; do
		args="$args -Dstorage_$d=disabled"
	done
	for d in sanlock glusterfs libiscsi netcf openwsman apparmor \
		 secdriver_apparmor selinux secdriver_selinux polkit firewalld \
		 nbdkit libssh libssh2 curl sasl; do
		args="$args -D$d=disabled"
	done
	# One line, single spaces.
	# shellcheck disable=SC2086
	echo $args
}
