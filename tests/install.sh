#!/bin/sh
# install.sh: make install into a DESTDIR, as a packager would: every file
# where it belongs with its mode, an operator's config never overwritten,
# the installed octd run on a temp config and fed one event, the unit
# checked by systemd-analyze when there is one, and make uninstall leaving
# nothing behind. The paths in the unit, the logrotate file, oct.conf and
# the manual pages are checked against the ones the installed programs use
# (one set: the build's). Prints TAP. The INST_* variables come from
# tests/include.am (make's expanded installation directories).
builddir=${OCT_BUILDDIR:-.}
srcdir=${OCT_SRCDIR:-.}
make=${MAKE:-make}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oct-install-XXXXXX") || exit 1
dest=$tmp/dest
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -s "$tmp/out" ] && sed 's/^/# /' "$tmp/out"
	fi
	: >"$tmp/out"
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}
# Run make quietly in the build dir; its output in $tmp/out. MAKEFLAGS is
# cleared: the jobserver of an outer "make -j check" is not ours.
mk() {
	MAKEFLAGS= $make -s -C "$builddir" "$@" DESTDIR="$dest" >"$tmp/out" 2>&1
}

conf=$dest$INST_SYSCONFDIR/oct/oct.conf
unit=$dest$INST_UNITDIR/oct.service
files="755 $INST_SBINDIR/octd
755 $INST_BINDIR/octctl
755 $INST_BINDIR/oct-receiver
755 $INST_PKGLIBEXECDIR/oct-ingestd
755 $INST_PKGLIBEXECDIR/oct-writerd
755 $INST_PKGLIBEXECDIR/oct-pushd
644 $INST_SYSCONFDIR/oct/oct.conf
644 $INST_UNITDIR/oct.service
644 $INST_LOGROTATEDIR/oct
644 $INST_SYSUSERSDIR/oct.conf
644 $INST_MANDIR/man5/oct.conf.5
644 $INST_MANDIR/man8/octd.8
644 $INST_MANDIR/man8/octctl.8
644 $INST_MANDIR/man8/oct-receiver.8"

echo "1..$(($(echo "$files" | wc -l) + 24))"

mk install
ok $? "make install DESTDIR="
while read -r mode path; do
	got=$(stat -c %a "$dest$path" 2>&1)
	[ "$got" = "$mode" ]
	ok $? "$path: mode $mode (got $got)"
done <<EOF
$files
EOF

cmp "$conf" "$builddir/etc/oct.conf" >"$tmp/out" 2>&1 &&
    "$dest$INST_SBINDIR/octd" -t -c "$conf" >"$tmp/out" 2>&1
ok $? "the installed config is the shipped one and passes octd -t"

! grep -rnI '@[a-zA-Z_]*@' "$dest" >"$tmp/out" &&
    grep -q "^ExecStart=$INST_SBINDIR/octd -f -c $INST_SYSCONFDIR/oct/oct.conf\$" "$unit"
ok $? "no installed file holds an @variable@; the unit starts the installed octd"

# The directories the installed programs use, as they name them: octctl
# says where it looked for octd and for oct.db; octd and octctl hold the
# log directory (and the others) as compiled-in strings.
logrotate=$dest$INST_LOGROTATEDIR/oct
octctl() {
	env -u OCT_DATA_DIR -u OCT_LOG_DIR -u OCT_RUN_DIR \
	    "$dest$INST_BINDIR/octctl" -c "$conf" "$@" 2>&1
}
rundir=$(octctl status | sed -n 's|.*(no \(/[^ ]*\)/control\.sock).*|\1|p')
datadir=$(octctl push-status | sed -n 's|^octctl: \(/[^ ]*\)/oct\.db: .*|\1|p')
logdir=${datadir%/lib/oct}/log/oct
compiled() {		# compiled(binary, string): string is one of binary's
	tr '\0' '\n' <"$1" | grep -qFx "$2"
}
for b in "$dest$INST_SBINDIR/octd" "$dest$INST_BINDIR/octctl"; do
	[ -n "$rundir" ] && [ -n "$datadir" ] && compiled "$b" "$datadir" &&
	    compiled "$b" "$logdir" && compiled "$b" "$rundir"
	ok $? "${b##*/}'s defaults: data_dir $datadir, log_dir $logdir, run_dir $rundir"
done

# The unit lets octd write only there, sets no OCT_*_DIR that would move
# octd but not octctl, and makes the three directories.
grep -qx "ReadWritePaths=$datadir $logdir $rundir" "$unit" &&
    ! grep -n '^Environment=.*OCT_[A-Z]*_DIR' "$unit" >"$tmp/out" &&
    ! grep -n '^[A-Za-z]*Directory=' "$unit" >>"$tmp/out" &&
    grep -q "^ExecStartPre=+.* -m 0700 $datadir\$" "$unit" &&
    grep -q "^ExecStartPre=+.* -m 0750 $logdir\$" "$unit" &&
    grep -q "^ExecStartPre=+.* -m 0755 $rundir\$" "$unit"
ok $? "the unit's directories are the programs' defaults"

grep -qx "$logdir/\*\.log {" "$logrotate" &&
    grep -q "cat $rundir/octd\.pid" "$logrotate"
ok $? "the logrotate file rotates $logdir/*.log and signals $rundir/octd.pid"

# Where logrotate reads it, unless configure was told otherwise.
if "$builddir/config.status" --config | grep -q -- '--with-logrotatedir'; then
	skip "logrotate file location: configured with --with-logrotatedir"
else
	[ "$INST_LOGROTATEDIR" = /etc/logrotate.d ]
	ok $? "the logrotate file goes to /etc/logrotate.d (got $INST_LOGROTATEDIR)"
fi

grep -qx "#data_dir = $datadir" "$conf" &&
    grep -qx "#log_dir = $logdir" "$conf" &&
    grep -qx "#run_dir = $rundir" "$conf" &&
    grep -qx "#signing_key = $datadir/signing.key" "$conf"
ok $? "the installed oct.conf shows the programs' defaults"

man=$dest$INST_MANDIR
grep -q "^\.It Pa $INST_SYSCONFDIR/oct/oct.conf\$" "$man/man8/octd.8" &&
    grep -q "^\.It Pa $datadir/oct.db\$" "$man/man8/octd.8" &&
    grep -q "^\.It Pa $rundir/octd.pid\$" "$man/man8/octd.8" &&
    grep -q "^\.It Pa $INST_PKGLIBEXECDIR/\$" "$man/man8/octd.8" &&
    grep -q "^\.It Pa $rundir/control.sock\$" "$man/man8/octctl.8" &&
    grep -q "^\.It Pa $INST_SYSCONFDIR/oct/oct.conf\$" "$man/man5/oct.conf.5" &&
    grep -q "^\.Pa $datadir \.\$" "$man/man5/oct.conf.5"
ok $? "the manual pages name the build's files"

# Built with libsystemd whenever configure finds it, unless told not to.
if "$builddir/config.status" --config |
    grep -qE -- '--without-systemd|--with-systemd=no'; then
	skip "Type=notify: configured --without-systemd"
elif pkg-config --exists libsystemd 2>/dev/null; then
	grep -qx "Type=notify" "$unit" && grep -qx "WatchdogSec=30s" "$unit" &&
	    ldd "$dest$INST_SBINDIR/octd" | grep -q libsystemd
	ok $? "libsystemd is here: octd links it, the unit is Type=notify with WatchdogSec="
else
	grep -qx "Type=simple" "$unit"
	ok $? "no libsystemd here: the unit is Type=simple"
fi

# An operator's config survives a second install...
echo "# changed by the operator" >>"$conf"
mk install && grep -q "not overwriting" "$tmp/out" &&
    tail -n 1 "$conf" | grep -q "changed by the operator"
ok $? "a second install keeps a changed config, and says so"

# ...and an uninstall, which removes everything else.
mk uninstall && left=$(cd "$dest" && find . -type f) &&
    [ "$left" = ".$INST_SYSCONFDIR/oct/oct.conf" ]
r=$?
[ $r -ne 0 ] && echo "left: $left" >>"$tmp/out"
ok $r "uninstall keeps a changed config and removes the rest"

rm -f "$conf"
mk install && cmp -s "$conf" "$builddir/etc/oct.conf"
ok $? "install again puts the shipped config back"

# The installed octd on a config of its own in the temp dir, on a port
# below the kernel's ephemeral range (32768-60999): a client socket of a
# test running beside this one may hold any port in that range, and a
# refused connect does not show it.
port=$((20000 + $$ % 12000))
while curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null ||
    [ $? -ne 7 ]; do
	port=$((port + 1))		# 7: refused, so free
done
cat >"$tmp/oct.conf" <<EOF
listen = 127.0.0.1:$port
data_dir = $tmp/data
log_dir = $tmp/log
run_dir = $tmp/run
metrics_interval_ms = 0
EOF
OCT_LIBEXEC_DIR=$dest$INST_PKGLIBEXECDIR "$dest$INST_SBINDIR/octd" \
    -c "$tmp/oct.conf" >"$tmp/out" 2>&1
r=$?
[ $r -ne 0 ] && tail -n 3 "$tmp"/log/*.log >>"$tmp/out" 2>/dev/null
ok $r "the installed octd starts in the background and returns once up"
pid=$(cat "$tmp/run/octd.pid" 2>/dev/null)

code=$(curl -s -o "$tmp/out" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data '{"model":"install-test"}' \
    "http://127.0.0.1:$port/v1/traces?wait=commit")
[ "$code" = 200 ]
ok $? "POST /v1/traces?wait=commit answers 200 (got $code)"

rows=$(sqlite3 "$tmp/data/oct.db" \
    "SELECT count(*) FROM llm_traces WHERE model = 'install-test'" 2>&1)
[ "$rows" = 1 ]
ok $? "the event is in oct.db (rows: $rows)"

# systemctl reload runs the unit's ExecReload=: here on the temp config,
# with the installed octctl. A refused config makes it fail, naming the
# file, line and key; a good one is taken.
reload=$(sed -n 's/^ExecReload=//p' "$unit")
grep -qx "ExecReload=$INST_BINDIR/octctl -c $INST_SYSCONFDIR/oct/oct.conf reload" \
    "$unit"
ok $? "ExecReload= runs octctl reload on the installed config (got: $reload)"
reload=$(echo "$reload" | sed -e "s|^$INST_BINDIR/|$dest$INST_BINDIR/|" \
    -e "s| $INST_SYSCONFDIR/oct/oct.conf | $tmp/oct.conf |")
echo "batch_max = lots" >>"$tmp/oct.conf"
# shellcheck disable=SC2086 # the unit's command line, split as systemd does
env -u OCT_BATCH_MAX $reload >"$tmp/out" 2>&1
r=$?
[ $r -eq 1 ] && grep -q "$tmp/oct.conf:6: batch_max: bad number" "$tmp/out"
ok $? "ExecReload= on a refused config exits 1 (got $r) naming file, line and key"
sed -i '$d' "$tmp/oct.conf"
# shellcheck disable=SC2086
env -u OCT_BATCH_MAX $reload >"$tmp/out" 2>&1 && grep -q "took" "$tmp/out"
ok $? "ExecReload= on a good config exits 0"

[ -n "$pid" ] && kill -TERM "$pid"
i=0
while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
! kill -0 "$pid" 2>/dev/null && [ ! -e "$tmp/run/octd.pid" ] &&
    grep -q "info: exited" "$tmp/log/octd.log"
ok $? "SIGTERM stops it and it removes its pid file"
pid=

if command -v systemd-analyze >/dev/null 2>&1; then
	# Verified where the binaries are (ExecStart= and ExecReload= must
	# exist); no man pages here. The file name must stay oct.service.
	mkdir -p "$tmp/verify"
	sed -e "s|^ExecStart=$INST_SBINDIR/|ExecStart=$dest$INST_SBINDIR/|" \
	    -e "s|^ExecReload=$INST_BINDIR/|ExecReload=$dest$INST_BINDIR/|" \
	    "$unit" >"$tmp/verify/oct.service"
	systemd-analyze --man=no verify "$tmp/verify/oct.service" >"$tmp/out" 2>&1
	ok $? "systemd-analyze verify oct.service"
else
	skip "systemd-analyze verify: no systemd-analyze here"
fi

mk uninstall && left=$(cd "$dest" && find . -type f) && [ -z "$left" ]
r=$?
[ $r -ne 0 ] && echo "left: $left" >>"$tmp/out"
ok $r "make uninstall leaves no files"

[ ! -e "$dest$INST_PKGLIBEXECDIR" ]
ok $? "make uninstall removes $INST_PKGLIBEXECDIR, oct's own"
