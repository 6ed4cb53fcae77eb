#!/bin/bash
# Builds pamprofd's Debian package from this tree, as `dpkg-buildpackage
# -us -uc -b` on Debian 12, and checks it with lintian.
#
#   bash tests/systemd/build-deb.sh [--arch ARCH] OUTDIR
#
# --arch ARCH cross-builds the package for another Debian architecture, e.g.
# arm64 (Raspberry Pi, Orin; packaging/ARM64.md): `dpkg-buildpackage -a ARCH
# -Pcross,nocheck`, with Debian's multiarch :ARCH libraries and
# crossbuild-essential-ARCH (both installed when missing, the architecture
# added to dpkg when it is not there yet).
# - installs what the build needs (the Build-Depends of packaging/debian/control,
#   through `apt-get build-dep`, and lintian), as root or through sudo;
# - copies the tree (the files git knows of, committed or not, and new files
#   that .gitignore does not exclude; never build directories) into a scratch
#   directory with packaging/debian/ as debian/, since dpkg-buildpackage wants
#   debian/ at the top of the source;
# - builds, puts the .deb, .buildinfo and .changes into OUTDIR, lists the
#   package's contents and its maintainer scripts' systemd lines;
# - runs lintian on the .changes: exit 1 on any error (warnings are printed).
set -euo pipefail

build_arch=$(dpkg --print-architecture)
arch=$build_arch
if [ "${1:-}" = --arch ]; then
    arch=${2:?usage: build-deb.sh [--arch ARCH] OUTDIR}
    shift 2
fi
out=${1:?usage: build-deb.sh [--arch ARCH] OUTDIR}
! command -v dpkg-architecture >/dev/null || dpkg-architecture -a "$arch" -qDEB_HOST_GNU_TYPE >/dev/null 2>&1 ||
    { echo "build-deb.sh: \"$arch\" is not a Debian architecture (dpkg-architecture -L lists them)"; exit 2; }
cross=()
[ "$arch" = "$build_arch" ] || cross=(-a "$arch")
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

scratch=$(mktemp -d /tmp/pamprofd-deb.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
version=$(sed -n '1s/^pamprofd (\([^)]*\)).*/\1/p' "$top/packaging/debian/changelog")
src=$scratch/pamprofd-$version

echo "== copying the tree into $src"
mkdir -p "$src"
(cd "$top" && { git ls-files --cached --others --exclude-standard -z 2>/dev/null ||
                find . -path ./.git -prune -o -path './build*' -prune -o -type f -print0; } |
    grep -zv '^packaging/debian/' | xargs -0 cp --parents -a -t "$src" 2>/dev/null) || true
# Files git lists but that were deleted in the work tree are simply missing.
cp -a "$top/packaging/debian" "$src/debian"

echo "== build dependencies${cross[*]:+ for $arch}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600)
if [ ${#cross[@]} -gt 0 ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    $sudo dpkg --add-architecture "$arch"
    $sudo apt-get "${apt_opts[@]}" update -qq
fi
if ! dpkg-checkbuilddeps "${cross[@]}" "$src/debian/control" >/dev/null 2>&1 || ! command -v lintian >/dev/null; then
    $sudo apt-get "${apt_opts[@]}" update -qq
    $sudo apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends dpkg-dev fakeroot lintian >/dev/null
    [ ${#cross[@]} -eq 0 ] ||
        $sudo apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "crossbuild-essential-$arch" >/dev/null
    (cd "$src" && $sudo apt-get "${apt_opts[@]}" build-dep -y -qq --no-install-recommends "${cross[@]}" ./ >/dev/null)
fi
dpkg-checkbuilddeps "${cross[@]}" "$src/debian/control"

buildpackage=(dpkg-buildpackage -us -uc -b)
if [ ${#cross[@]} -gt 0 ]; then
    buildpackage+=("${cross[@]}" -Pcross,nocheck)
    export DEB_BUILD_OPTIONS="nocheck${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
fi
echo "== ${buildpackage[*]}"
(cd "$src" && "${buildpackage[@]}") > "$out/build.log" 2>&1 || {
    tail -40 "$out/build.log"
    echo "dpkg-buildpackage failed; the whole log is $out/build.log"
    exit 1
}
for f in "$scratch"/pamprofd_"$version"_"$arch".deb "$scratch"/pamprofd-dbgsym_"$version"_"$arch".deb \
         "$scratch"/pamprofd_"$version"_"$arch".buildinfo "$scratch"/pamprofd_"$version"_"$arch".changes; do
    [ -e "$f" ] && cp "$f" "$out/"
done
deb=$out/pamprofd_${version}_${arch}.deb
echo "== $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$deb" | awk '{ print $1, $6, $7, $8 }'
echo "== conffiles"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles
echo "== postinst"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst | grep -E "sysusers|tmpfiles|deb-systemd|systemctl" || true

echo "== lintian"
changes=$out/pamprofd_${version}_${arch}.changes
set +e
lintian --info --display-info --pedantic "$changes" | tee "$out/lintian.txt"
set -e
errors=$(grep -c '^E: ' "$out/lintian.txt" || true)
warnings=$(grep -c '^W: ' "$out/lintian.txt" || true)
echo "lintian: $errors errors, $warnings warnings"
[ "$errors" -eq 0 ]
