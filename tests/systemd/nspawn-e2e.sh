#!/bin/bash
# pamprofd's Debian package on a real systemd: Debian 12 booted in a container.
#
#   bash tests/systemd/nspawn-e2e.sh [DEBDIR]
#
# DEBDIR holds pamprofd_*.deb (from tests/systemd/build-deb.sh); without it the
# package is built first, into the cache directory. Needs root, the network to
# Debian's archive (the one this machine's apt uses), and about a minute and a
# half (a few minutes the first time: debootstrap).
#
# 1. debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm
#    into $PAMPROF_NSPAWN_CACHE (default /var/cache/pamprofd-nspawn), once; later
#    runs reuse it. Each run boots a throw-away copy (--ephemeral), so every run
#    starts from the same clean system.
# 2. Boots it with systemd-nspawn in the background (systemd is PID 1 inside;
#    machinectl does not work on hosts whose own PID 1 is not systemd, so
#    commands go in with nsenter into the container's PID 1's namespaces).
# 3. Installs the .deb with apt (its dependencies come from the archive), and
#    python3 to have a PAM: a python3 process whose command line matches the
#    default target_match, run as the user "pam" by systemd-run.
# 4. As root: systemctl enable --now pamprofd; systemd-analyze verify and
#    security. As "pilot", a member of pamprof: pamprofctl status, record
#    --scenario nspawn --duration 5 (first without py-spy: refused; then with
#    tests/tools/py-spy, the py-spy TEST DOUBLE, as /usr/local/bin/py-spy),
#    systemctl status pamprofd during the session (the STATUS= text), a session
#    into pilot's home and into /tmp, list, delete, reload, socket activation
#    after a stop, the daemon's capabilities, journalctl -u pamprofd with the
#    PAMPROF_* fields, apt-get purge.
# 5. Powers the container off.
#
# Exit status: 0 when every check passed; the checks are the lines "ok: ..."
# and "FAIL: ...". Known today: the two delete checks fail, because the daemon
# finds a session's --output directory again by its path, which under the
# unit is its own private /tmp, or /home read-only (README, "Installing as a
# service"). "Failed to configure loopback network device" in the journal is
# the container's doing (PrivateNetwork= needs CAP_NET_ADMIN, which a
# container sharing the host's network does not have); on a machine it is not
# there.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${PAMPROF_NSPAWN_CACHE:-/var/cache/pamprofd-nspawn}
base=$cache/bookworm-base
failures=0
passes=0

say() { printf '\n### %s\n' "$*"; }
ok() { echo "ok: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

[ "$(id -u)" -eq 0 ] || { echo "nspawn-e2e.sh needs root"; exit 2; }
export DEBIAN_FRONTEND=noninteractive
need=()
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mkdir -p "$cache/apt-archives/partial"

# -- the package --
debdir=${1:-}
if [ -z "$debdir" ]; then
    debdir=$cache/deb
    say "building the package into $debdir"
    bash "$top/tests/systemd/build-deb.sh" "$debdir" > "$cache/build-deb.log" 2>&1 ||
        { tail -30 "$cache/build-deb.log"; exit 1; }
    tail -1 "$cache/build-deb.log"
fi
debdir=$(cd "$debdir" && pwd)
deb=$(ls -t "$debdir"/pamprofd_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "no pamprofd_*.deb in $debdir"; exit 2; }
echo "package: $(basename "$deb")"

# -- the base system, once --
if [ ! -x "$base/lib/systemd/systemd" ]; then
    # The archive this machine's apt uses for bookworm; debootstrap's own default otherwise.
    mirror=$(apt-cache policy 2>/dev/null | awk '$3 ~ /^bookworm\/main$/ && $2 ~ /^https?:/ { print $2; exit }')
    say "debootstrap bookworm into $base ${mirror:+from $mirror}"
    rm -rf "$base.tmp"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$base.tmp" $mirror \
        > "$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log"; exit 1; }
    mv "$base.tmp" "$base"
fi

# -- boot --
say "booting Debian 12 with systemd-nspawn"
log=$cache/nspawn-console.log
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --boot --register=no --keep-unit --ephemeral \
    --console=read-only -D "$base" --machine="pamprofd-e2e-$$" \
    --bind-ro="$debdir:/mnt/deb" --bind-ro="$top/tests/tools:/mnt/tools" \
    --bind="$cache/apt-archives:/var/cache/apt/archives" > "$log" 2>&1 < /dev/null &
nspawn=$!

cleanup() {
    if kill -0 "$nspawn" 2>/dev/null; then
        kill "$nspawn" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$nspawn" 2>/dev/null
    fi
}
trap cleanup EXIT

pid1=""
for _ in $(seq 100); do
    pid1=$(pgrep -P "$nspawn" 2>/dev/null | head -1)
    [ -n "$pid1" ] && [ "$(cat /proc/"$pid1"/comm 2>/dev/null)" = systemd ] && break
    kill -0 "$nspawn" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
done
[ -n "$pid1" ] || { echo "no container PID 1"; cat "$log"; exit 1; }

# Run a command inside, as root, with a clean environment.
ctr() {
    nsenter -t "$pid1" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb SYSTEMD_COLORS=0 SYSTEMD_PAGER= "$@"
}
# ...and as pilot, a member of pamprof.
as_pilot() {
    ctr runuser -u pilot -- env HOME=/home/pilot "$@"
}
show() { printf '\ncontainer# %s\n' "$*"; ctr "$@"; }
show_pilot() { printf '\npilot$ %s\n' "$*"; as_pilot "$@"; }

state=""
for _ in $(seq 100); do
    state=$(ctr systemctl is-system-running 2>/dev/null)
    case $state in running|degraded) break ;; esac
    sleep 0.2
done
echo "container PID 1 is $pid1 (host pid); systemctl is-system-running: $state"
show uname -r
show systemctl --version

# -- install --
say "installing the package (and python3 for a PAM, man-db for the pages)"
ctr apt-get update -qq
ctr apt-get install -y --no-install-recommends "/mnt/deb/$(basename "$deb")" python3 man-db procps 2>&1 |
    grep -E "^(Setting up pamprofd|Created symlink|Get:[0-9]+ .*pamprofd|Unpacking pamprofd)|pamprofd" || true
show dpkg -s pamprofd
show getent group pamprof
show getent passwd pamprofd
show systemctl is-enabled pamprofd.service pamprofd.socket
show systemctl enable --now pamprofd
show systemctl is-active pamprofd.service pamprofd.socket
check "pamprofd.service active after enable --now" test "$(ctr systemctl is-active pamprofd.service)" = active
check "pamprofd.socket active" test "$(ctr systemctl is-active pamprofd.socket)" = active
show ls -l /run/pamprofd /var/lib/pamprofd /etc/pamprofd

say "systemd-analyze on the installed units"
show systemd-analyze verify pamprofd.service pamprofd.socket
check "systemd-analyze verify prints nothing" test -z "$(ctr systemd-analyze verify pamprofd.service pamprofd.socket 2>&1)"
printf '\ncontainer# systemd-analyze security pamprofd.service | grep -E "✗|Overall"\n'
ctr systemd-analyze security --no-pager pamprofd.service 2>&1 | grep -E "✗|Overall"
show man -w pamprofd pamprofctl pamprofd.conf

# -- a PAM --
say "a PAM: python3 whose command line matches target_match, as the user pam"
ctr useradd -m -s /bin/bash pam
ctr useradd -m -s /bin/bash -G pamprof pilot
show systemd-run --unit=petal-app-manager --uid=pam --gid=pam /usr/bin/python3 -c \
    'import time; time.sleep(3600)' uvicorn petal_app_manager.main:app
sleep 2.5
show_pilot pamprofctl status
check "status names PAM's pid" as_pilot sh -c 'pamprofctl status | grep -q "^PAM: *pid"'

# -- sessions --
say "record without py-spy installed: refused, with the way out"
show_pilot pamprofctl record --scenario nspawn --duration 5
echo "(exit status $?)"

say "record with py-spy: tests/tools/py-spy, the py-spy TEST DOUBLE (py-spy is not in Debian), as /usr/local/bin/py-spy"
ctr install -m 0755 /mnt/tools/py-spy /usr/local/bin/py-spy
show /usr/local/bin/py-spy --version
( sleep 3.5; show systemctl status pamprofd --no-pager -n 0 ) &
status_job=$!
show_pilot pamprofctl record --scenario nspawn --duration 5
rc=$?
wait $status_job
check "record --scenario nspawn --duration 5 exits 0" test "$rc" -eq 0
show ls -l /var/lib/pamprofd/profiles

say "a session into pilot's home (the daemon sees /home read-only) and one into /tmp (the daemon has its own)"
as_pilot mkdir -p /home/pilot/profiles /tmp/cpu_data
show_pilot pamprofctl record --scenario nspawn-home --duration 3 --output /home/pilot/profiles
show_pilot pamprofctl record --scenario nspawn-tmp --duration 3 --no-profile --output /tmp/cpu_data
show ls -l /home/pilot/profiles /tmp/cpu_data
check "files in pilot's home belong to pilot" \
    test "$(ctr stat -c %U /home/pilot/profiles/$(ctr ls /home/pilot/profiles | grep _cpu.csv | head -1))" = pilot
check "files in /tmp/cpu_data belong to pilot" \
    test "$(ctr stat -c %U /tmp/cpu_data/$(ctr ls /tmp/cpu_data | grep _cpu.csv | head -1))" = pilot

say "list, show, delete"
show_pilot pamprofctl list
home_id=$(as_pilot pamprofctl list | awk '/^pam_nspawn-home_/ { print $1 }' | tail -1)
tmp_id=$(as_pilot pamprofctl list | awk '/^pam_nspawn-tmp_/ { print $1 }' | tail -1)
show_pilot pamprofctl show "$home_id"
show_pilot pamprofctl delete "$home_id"
show ls -l /home/pilot/profiles
check "delete removed the files in pilot's home" \
    sh -c "! nsenter -t $pid1 -a ls /home/pilot/profiles | grep -q '^$home_id'"
show_pilot pamprofctl delete "$tmp_id"
show ls -l /tmp/cpu_data
check "delete removed the files in /tmp/cpu_data" sh -c "! nsenter -t $pid1 -a ls /tmp/cpu_data | grep -q '^$tmp_id'"

say "reload (SIGHUP): interval = 2 in pamprofd.conf"
ctr sed -i 's/^#interval = 1$/interval = 2/' /etc/pamprofd/pamprofd.conf
show systemctl reload pamprofd
sleep 1
show journalctl -u pamprofd --no-pager -n 3 -o cat
check "the reload was logged" sh -c "nsenter -t $pid1 -a journalctl -u pamprofd -o cat | grep -q 'Configuration reloaded'"

say "socket activation: stop the service, the socket stays and the next request starts it"
show systemctl stop pamprofd.service
show systemctl is-active pamprofd.service pamprofd.socket
show_pilot pamprofctl version
sleep 1
show systemctl is-active pamprofd.service
check "a request on the socket started the service" test "$(ctr systemctl is-active pamprofd.service)" = active

say "systemctl stop during a session: the daemon alone gets SIGTERM (KillMode=mixed) and stops py-spy with SIGINT"
show_pilot pamprofctl start --scenario nspawn-stop
sleep 2.5
show systemctl stop pamprofd.service
stop_id=$(ctr sh -c 'ls /var/lib/pamprofd/sessions | sed -n "s/^\(pam_nspawn-stop_[0-9_]*\)\.json$/\1/p" | tail -1')
show_pilot pamprofctl show "$stop_id"
check "the stopped session ended cleanly, profile and all" \
    sh -c "nsenter -t $pid1 -a runuser -u pilot -- pamprofctl show '$stop_id' | grep -q '^Profile: ok'"
check "the service is running again after that request" test "$(ctr systemctl is-active pamprofd.service)" = active

say "the daemon's identity and capabilities"
mainpid=$(ctr systemctl show -P MainPID pamprofd)
show ps -o user,group,pid,cmd -p "$mainpid"
show grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/"$mainpid"/status
check "daemon runs as pamprofd" test "$(ctr ps -o user= -p "$mainpid")" = pamprofd

say "systemctl status pamprofd"
show systemctl status pamprofd --no-pager

say "journalctl -u pamprofd"
show journalctl -u pamprofd --no-pager -o short-monotonic
printf '\ncontainer# journalctl -u pamprofd -o verbose PAMPROF_SCENARIO=nspawn | grep PAMPROF_ | sort | uniq -c\n'
ctr journalctl -u pamprofd -o verbose PAMPROF_SCENARIO=nspawn | grep -E "^ *PAMPROF_|PRIORITY" | sed 's/^ *//' |
    sort | uniq -c
check "journal entries carry PAMPROF_SCENARIO=nspawn" \
    test -n "$(ctr journalctl -u pamprofd -o cat PAMPROF_SCENARIO=nspawn PAMPROF_EVENT=session-start)"

say "target_unit = petal-app-manager.service: PAM as the unit's MainPID, followed over D-Bus"
ctr sh -c 'echo "target_unit = petal-app-manager.service" >> /etc/pamprofd/pamprofd.conf'
show systemctl restart pamprofd
sleep 1.5
mainpam=$(ctr systemctl show -p MainPID --value petal-app-manager.service)
show_pilot pamprofctl status
check "status names the unit's MainPID ($mainpam)" as_pilot sh -c "pamprofctl --json status | grep -q '\"pid\":$mainpam'"
show systemctl kill --signal=KILL petal-app-manager.service
sleep 1.5
check "PAM gone with the unit's main process" as_pilot sh -c 'pamprofctl status | grep -q "has no main process"'
ctr systemctl reset-failed petal-app-manager.service 2>/dev/null || true
show systemd-run --unit=petal-app-manager --uid=pam --gid=pam /usr/bin/python3 -c \
    'import time; time.sleep(3600)' uvicorn petal_app_manager.main:app
sleep 1.5
mainpam2=$(ctr systemctl show -p MainPID --value petal-app-manager.service)
show_pilot pamprofctl status
check "the new MainPID ($mainpam2) followed, one restart seen" \
    as_pilot sh -c "pamprofctl --json status | grep -q '\"pid\":$mainpam2' && pamprofctl --json status | grep -q '\"restarts\":1'"
check "the daemon said it follows the unit" \
    sh -c "nsenter -t $pid1 -a journalctl -u pamprofd -o cat | grep -q 'Following PAM as the main process of petal-app-manager.service'"

say "apt-get purge"
ctr apt-get purge -y pamprofd 2>&1 | grep -E "Removing|Purging" || true
show systemctl is-active pamprofd.service pamprofd.socket
show ls -la /var/lib/pamprofd
check "purge removed /var/lib/pamprofd" sh -c "! nsenter -t $pid1 -a test -e /var/lib/pamprofd"

say "power off"
ctr systemctl poweroff
for _ in $(seq 150); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$nspawn" 2>/dev/null; then fail "the container did not power off"; else
    wait "$nspawn"; echo "systemd-nspawn exited with $?"; tail -3 "$log"; fi

echo
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
