#!/bin/sh
# Writes the default /etc/pamprofd/pamprofd.conf: every key of the daemon,
# commented out, with its default, as `pamprofd --check-config` prints them
# for an empty file. Generated at build time, so a key added to the daemon is
# in the installed file without anyone remembering to add it.
# Usage: gen-default-conf.sh OUTPUT COMMAND [ARG...]
# COMMAND prints the "key = value" lines with a "# help" line before each:
# the build runs gen-default-conf (systemd/gen-default-conf.c, built for the
# build machine), and `gen-default-conf.sh OUT pamprofd --config /dev/null
# --check-config` gives the same file. A command that fails or prints no key
# fails the script, and the build with it.
set -eu
[ $# -ge 2 ] || { echo "usage: gen-default-conf.sh OUTPUT COMMAND [ARG...]" >&2; exit 2; }
out=$1
shift
tmp=$out.tmp
keys=$out.keys
trap 'rm -f "$tmp" "$keys" "$keys.2"' EXIT

# No pipe around the command: sh has no pipefail, and its status must count.
"$@" >"$keys" || { echo "gen-default-conf.sh: $* failed (exit $?)" >&2; exit 1; }
grep -q '^[a-z_][a-z_0-9]* = ' "$keys" || { echo "gen-default-conf.sh: $* printed no key" >&2; exit 1; }
sed -e 's/^\([a-z_][a-z_0-9]*\) = *$/#\1 =/' \
    -e 's/^\([a-z_][a-z_0-9]*\) = \(.*\)$/#\1 = \2/' "$keys" >"$keys.2"
{
    cat <<'HEAD'
# /etc/pamprofd/pamprofd.conf: configuration of pamprofd, the PAM profiling daemon.
#
# One "key = value" per line; "#" starts a comment; a value may be quoted
# ("...") to keep a leading "#" or spaces. Every key below is shown
# commented out with its default: uncomment a line to change it. Each key
# also has a command-line flag of the same name (output_dir <-> --output-dir)
# that overrides this file. `pamprofd --check-config` prints the effective
# configuration in this syntax; a bad file stops the daemon with
# "file:line: reason". See pamprofd.conf(5).
#
# After a change: systemctl reload pamprofd (socket, state_dir and proc_root
# take a restart: systemctl restart pamprofd).

HEAD
    awk '/^# / && NR > 1 { print "" } { print }' "$keys.2"
} >"$tmp"
mv "$tmp" "$out"
