#!/bin/bash
# Builds pamprofd's Debian package from this tree, as `dpkg-buildpackage
# -us -uc -b` on Debian 12, and checks it with lintian.
#
#   bash tests/systemd/build-deb.sh OUTDIR
#
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

out=${1:?usage: build-deb.sh OUTDIR}
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

echo "== build dependencies"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg-checkbuilddeps "$src/debian/control" >/dev/null 2>&1 || ! command -v lintian >/dev/null; then
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends dpkg-dev fakeroot lintian >/dev/null
    (cd "$src" && $sudo apt-get build-dep -y -qq --no-install-recommends ./ >/dev/null)
fi
dpkg-checkbuilddeps "$src/debian/control"

echo "== dpkg-buildpackage -us -uc -b"
(cd "$src" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1 || {
    tail -40 "$out/build.log"
    echo "dpkg-buildpackage failed; the whole log is $out/build.log"
    exit 1
}
arch=$(dpkg --print-architecture)
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
