#!/bin/sh
# install.sh: make install into a DESTDIR, as a packager would: every file
# where it belongs with its mode, an operator's config never overwritten,
# the installed octd run on a temp config and fed one event, the unit
# checked by systemd-analyze when there is one, and make uninstall leaving
# nothing behind. Prints TAP. The INST_* variables come from
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
644 $INST_SYSCONFDIR/logrotate.d/oct
644 $INST_SYSUSERSDIR/oct.conf
644 $INST_MANDIR/man5/oct.conf.5
644 $INST_MANDIR/man8/octd.8
644 $INST_MANDIR/man8/octctl.8
644 $INST_MANDIR/man8/oct-receiver.8"

echo "1..$(($(echo "$files" | wc -l) + 13))"

mk install
ok $? "make install DESTDIR="
while read -r mode path; do
	got=$(stat -c %a "$dest$path" 2>&1)
	[ "$got" = "$mode" ]
	ok $? "$path: mode $mode (got $got)"
done <<EOF
$files
EOF

cmp "$conf" "$srcdir/etc/oct.conf" >"$tmp/out" 2>&1 &&
    "$dest$INST_SBINDIR/octd" -t -c "$conf" >"$tmp/out" 2>&1
ok $? "the installed config is the shipped one and passes octd -t"

! grep -n '@[a-zA-Z_]*@' "$unit" "$dest$INST_SYSCONFDIR/logrotate.d/oct" \
    >"$tmp/out" && grep -q "^ExecStart=$INST_SBINDIR/octd -f -c $INST_SYSCONFDIR/oct/oct.conf\$" "$unit"
ok $? "unit and logrotate file have their paths filled in"

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
mk install && cmp -s "$conf" "$srcdir/etc/oct.conf"
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
	# Verified where the binary is (ExecStart= must exist); no man pages
	# here. The file name must stay oct.service.
	mkdir -p "$tmp/verify"
	sed "s|^ExecStart=$INST_SBINDIR/|ExecStart=$dest$INST_SBINDIR/|" "$unit" \
	    >"$tmp/verify/oct.service"
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
