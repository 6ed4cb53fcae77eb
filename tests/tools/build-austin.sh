#!/bin/bash
# Fetch Austin 3.7.0 from Debian's archive and build it into a cache directory.
#
#   tests/tools/build-austin.sh [--host TRIPLET] DIR   # prints DIR/bin/austin (its last line)
#
# Debian 12 has only Austin 1.0, which cannot read Python 3.11; Debian 13
# (trixie) ships 3.7.0, and its upstream tarball is in the archive as the
# source package's austin_3.7.0.orig.tar.gz. This script:
#   1. takes the archive from this machine's apt sources (/etc/apt/sources.list
#      and sources.list.d/*.list, *.sources), or $PAMPROF_DEBIAN_MIRROR;
#   2. fetches trixie's InRelease and checks its signature with gpgv against
#      the Debian archive keyring when both are here, then Sources.xz against
#      the SHA256 InRelease gives for it;
#   3. takes the SHA256 and size of austin_3.7.0.orig.tar.gz from Sources.xz,
#      fetches the tarball from the same archive and checks it;
#   4. builds its austin program with autotools (autoreconf, configure, make
#      austin; not austinp, which needs libunwind) into DIR: about 15 s,
#      once; a DIR/bin/austin that says 3.7.0 is used as it is.
# --host TRIPLET cross-builds for another architecture, e.g. aarch64-linux-gnu
# with Debian's crossbuild-essential-arm64 (configure --host), for a Raspberry
# Pi or an Orin (packaging/ARM64.md). Its --version is checked through
# qemu-user (qemu-aarch64-static for aarch64-*) when that is installed, else
# only its ELF machine.
# Exit: 0 built (or already there), 3 the archive cannot be reached (callers
# may skip), 1 anything else (a bad checksum, a failed build), 2 usage.
# Needs curl (or wget), xz, sha256sum, autoconf, automake, make, a C compiler.
set -euo pipefail

VERSION=3.7.0
SUITE=trixie
TARBALL=austin_${VERSION}.orig.tar.gz
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "build-austin: $*" >&2; exit 1; }
unreachable() { echo "build-austin: $*" >&2; exit 3; }

host=
if [ $# -ge 1 ] && [ "$1" = --host ]; then
    [ $# -ge 2 ] || { echo "build-austin: --host needs a GNU triplet, e.g. aarch64-linux-gnu" >&2; exit 2; }
    host=$2
    shift 2
fi
[ $# -eq 1 ] || { sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
dest=$1
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# How to run what was built: directly, or for a --host build through qemu-user.
run=()
if [ -n "$host" ]; then
    command -v "$host-gcc" >/dev/null || die "no $host-gcc: install the cross compiler (crossbuild-essential-arm64 for aarch64-linux-gnu)"
    case $host in
    aarch64-*) qemu=qemu-aarch64-static machine=b7 ;; # e_machine EM_AARCH64 = 183
    arm*) qemu=qemu-arm-static machine=28 ;;          # EM_ARM = 40
    *) qemu= machine= ;;
    esac
    if [ -n "$qemu" ] && command -v "$qemu" >/dev/null; then
        run=("$qemu")
    fi
fi
have_austin() {
    [ -x "$dest/bin/austin" ] || return 1
    if [ -n "$host" ] && [ ${#run[@]} -eq 0 ]; then
        # Not runnable here: at least the ELF machine (byte 18, e_machine's low byte).
        [ -z "$machine" ] || [ "$(od -An -tx1 -j18 -N1 "$dest/bin/austin" | tr -d ' ')" = "$machine" ]
        return
    fi
    [ "$("${run[@]}" "$dest/bin/austin" --version 2>/dev/null)" = "austin $VERSION" ]
}
if have_austin; then
    echo "$dest/bin/austin"
    exit 0
fi

# One build at a time per directory (the unit and ASan stages may race).
exec 9>"$dest/.lock"
flock 9
if have_austin; then
    echo "$dest/bin/austin"
    exit 0
fi

# The Debian archive this machine's apt uses: the first URI of a suite that is
# not -security (deb822 .sources and one-line .list), else deb.debian.org.
mirror_from_apt() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" || $1 == "deb-src" {
                 i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                 if ($(i + 1) !~ /-security$/ && $i ~ /^https?:/) { print $i; exit }
             }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             {
                 uris = ""; suites = ""; types = ""; enabled = "yes"
                 for (i = 1; i <= NF; i++) {
                     if ($i ~ /^URIs:/) uris = substr($i, 6)
                     if ($i ~ /^Suites:/) suites = substr($i, 8)
                     if ($i ~ /^Types:/) types = substr($i, 7)
                     if ($i ~ /^Enabled:/) enabled = substr($i, 9)
                 }
                 gsub(/^ +| +$/, "", enabled)
                 if (types ~ /deb/ && suites !~ /-security/ && enabled != "no") {
                     split(uris, u, " "); for (k in u) if (u[k] ~ /^https?:/) { print u[k]; exit }
                 }
             }' "$f"
    done
}

mirror=${PAMPROF_DEBIAN_MIRROR:-$(mirror_from_apt | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

fetch() { # URL FILE
    if command -v curl >/dev/null; then
        curl -fsSL --connect-timeout 15 --retry 2 -o "$2" "$1"
    elif command -v wget >/dev/null; then
        wget -q -T 15 -t 2 -O "$2" "$1"
    else
        die "neither curl nor wget is installed"
    fi
}

work=$(mktemp -d "$dest/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "build-austin: Austin $VERSION from $mirror ($SUITE's source package)${host:+, for $host}" >&2
fetch "$mirror/dists/$SUITE/InRelease" "$work/InRelease" ||
    unreachable "cannot fetch $mirror/dists/$SUITE/InRelease: is the Debian archive reachable from here?"

if command -v gpgv >/dev/null && [ -r "$KEYRING" ]; then
    gpgv --keyring "$KEYRING" "$work/InRelease" >/dev/null 2>&1 ||
        die "the signature of $SUITE's InRelease does not check out against $KEYRING"
    echo "build-austin: InRelease signed by the Debian archive key" >&2
else
    echo "build-austin: no gpgv or $KEYRING: InRelease's signature not checked" >&2
fi

fetch "$mirror/dists/$SUITE/main/source/Sources.xz" "$work/Sources.xz" ||
    unreachable "cannot fetch $SUITE's Sources.xz from $mirror"
want=$(awk '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 } s && $3 == "main/source/Sources.xz" { print $1 }' \
    "$work/InRelease")
[ -n "$want" ] || die "InRelease gives no SHA256 for main/source/Sources.xz"
echo "$want  $work/Sources.xz" | sha256sum -c --quiet - >/dev/null ||
    die "Sources.xz does not match the SHA256 in InRelease"

# The austin stanza: its directory in the pool and the tarball's SHA256 and size.
read -r dir sha size < <(xz -dc "$work/Sources.xz" | awk -v tb="$TARBALL" '
    BEGIN { RS = ""; FS = "\n" }
    $1 == "Package: austin" {
        d = ""; h = ""; n = ""; s = 0
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^Directory: /) d = substr($i, 12)
            if ($i ~ /^Checksums-Sha256:/) { s = 1; continue }
            if ($i !~ /^ /) s = 0
            if (s) { split($i, f, " "); if (f[3] == tb) { h = f[1]; n = f[2] } }
        }
        if (h != "") { print d, h, n; exit }
    }') || true
[ -n "${sha:-}" ] || die "$SUITE's Sources index has no $TARBALL"

fetch "$mirror/$dir/$TARBALL" "$work/$TARBALL" || unreachable "cannot fetch $mirror/$dir/$TARBALL"
[ "$(stat -c %s "$work/$TARBALL")" = "$size" ] || die "$TARBALL is not $size bytes as Sources says"
echo "$sha  $work/$TARBALL" | sha256sum -c --quiet - >/dev/null ||
    die "$TARBALL does not match the SHA256 in $SUITE's Sources ($sha)"
echo "build-austin: $TARBALL SHA256 $sha, as in $SUITE's Sources" >&2

tar -xzf "$work/$TARBALL" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'austin*' | head -1)
[ -n "$src" ] || die "$TARBALL holds no austin directory"
(
    cd "$src"
    autoreconf --install >"$work/build.log" 2>&1
    ./configure --prefix="$dest" ${host:+--host="$host"} >>"$work/build.log" 2>&1
    # Only austin: `make` would also build austinp, which links Debian 12's non-PIE
    # libunwind-ptrace.a where libunwind-dev and binutils-dev are installed, and fails.
    make -j"$(nproc)" -C src austin >>"$work/build.log" 2>&1
    install -D -m 0755 src/austin "$dest/bin/austin"
) || { tail -30 "$work/build.log" >&2; die "the build failed (autoreconf, configure, make)"; }

have_austin || die "the build gave no working $dest/bin/austin"
echo "build-austin: built $dest/bin/austin" >&2
echo "$dest/bin/austin"
