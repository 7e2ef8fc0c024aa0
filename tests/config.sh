#!/bin/sh
# config.sh: octd -t on every tests/config/*.conf, compared with its
# .expected file (output and exit status), and on the shipped configs.
# NAME.env, when there is one, holds VAR=value lines put in octd's
# environment for NAME.conf.
# Prints TAP. Regenerate an expected file by hand, never by this script.
srcdir=$(cd "${OCT_SRCDIR:-.}" && pwd)
builddir=$(cd "${OCT_BUILDDIR:-.}" && pwd)
octd=$builddir/octd
cd "$srcdir/tests/config" || exit 1
set -- *.conf
echo "1..$(($# + 2))"
n=0
for f in "$@"; do
	n=$((n + 1))
	name=${f%.conf}
	out=$(if [ -f "$name.env" ]; then
		while IFS= read -r v; do export "$v"; done <"$name.env"
	fi
	"$octd" -t -c "$f" 2>&1)
	out="$out
exit $?"
	if [ "$out" = "$(cat "$name.expected")" ]; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		printf '%s\n' "$out" | sed 's/^/# got: /'
		sed 's/^/# want: /' "$name.expected"
	fi
done
# oct.conf as built from etc/oct.conf.in, with this build's paths
# oct.dev.conf's relative paths are from the top of the checkout, where
# scripts/dev starts octd.
for f in "$builddir/etc/oct.conf" etc/oct.dev.conf; do
	n=$((n + 1))
	if out=$(cd "$srcdir" && "$octd" -t -c "$f" 2>&1); then
		echo "ok $n - shipped etc/${f##*/} passes octd -t"
	else
		echo "not ok $n - shipped etc/${f##*/} passes octd -t"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
done
