#!/bin/sh
# Writes the default /etc/pamprofd/pamprofd.conf: every key of the daemon,
# commented out, with its default, as `pamprofd --check-config` prints them
# for an empty file. Generated at build time, so a key added to the daemon is
# in the installed file without anyone remembering to add it.
# Usage: gen-default-conf.sh PAMPROFD OUTPUT
set -eu
pamprofd=$1
out=$2
tmp=$out.tmp
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
    "$pamprofd" --config /dev/null --check-config |
        sed -e 's/^\([a-z_][a-z_0-9]*\) = *$/#\1 =/' \
            -e 's/^\([a-z_][a-z_0-9]*\) = \(.*\)$/#\1 = \2/' |
        awk '/^# / && NR > 1 { print "" } { print }'
} > "$tmp"
mv "$tmp" "$out"
