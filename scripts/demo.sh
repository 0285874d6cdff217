#!/usr/bin/env bash
# The whole system, locally: starts `aptqd all` against the services of
# `make services`, creates a tenant, a signing key, a repository and a
# release, publishes a few packages concurrently through the CLI, and has a
# real apt-get update + install --download-only consume the result.
# Run through `make demo` (which starts the services and builds the binaries).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.aptq"
bin="$state/bin"
demo="$state/demo"
rm -rf "$demo"
mkdir -p "$demo"
. "$state/env"

# APTQ_LISTEN is the caller's (.aptq/env keeps it); a taken address is
# not an error for a demo: another free loopback port is as good.
addr=${APTQ_LISTEN:-127.0.0.1:8080}
port_taken() { # host port: something accepts connections there
	timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}
free_port_after() { # port: the first loopback port after it that nothing listens on
	local p
	for p in $(seq $(($1 + 1)) $(($1 + 200))); do
		port_taken 127.0.0.1 "$p" || { echo "$p"; return; }
	done
	echo "the 200 ports after $1 are taken; set APTQ_LISTEN to a free address" >&2
	exit 1
}
# dialable turns a listen address into one a client here can dial: a
# wildcard host is this machine's loopback.
dialable() {
	local h=${1%:*} p=${1##*:}
	h=${h#[} h=${h%]}
	case "$h" in "" | 0.0.0.0 | ::) h=127.0.0.1 ;; esac
	case "$h" in *:*) h="[$h]" ;; esac
	echo "$h:$p"
}
target=$(dialable "$addr")
port=${target##*:} host=${target%:*} host=${host#[} host=${host%]}

# aptqd_failed shows why aptqd is not serving: its own last words.
aptqd_failed() {
	echo "$1; the end of .aptq/aptqd.log:" >&2
	tail -n 15 "$state/aptqd.log" | sed 's/^/  /' >&2
	exit 1
}

# start_aptqd starts aptqd on $APTQ_LISTEN and waits until it is ready;
# it fails when aptqd exits first, with aptqd's status in $rc.
start_aptqd() {
	nohup "$bin/aptqd" all >"$state/aptqd.log" 2>&1 &
	aptqd_pid=$!
	echo "$aptqd_pid" >"$state/aptqd.pid"
	for _ in $(seq 1 150); do
		# A bind error or a bad setting ends aptqd at once: say so now, not
		# when the wait for readiness runs out. (Bash reaps its exited
		# children, so kill -0 fails as soon as aptqd has exited.)
		kill -0 "$aptqd_pid" 2>/dev/null || { wait "$aptqd_pid" && rc=0 || rc=$?; return 1; }
		curl -sf --max-time 2 "http://$(dialable "$APTQ_LISTEN")/readyz" >/dev/null && return 0
		sleep 0.2
	done
	aptqd_failed "aptqd did not become ready on $APTQ_LISTEN within 30 s"
}

# 1. The server: migrations, API and workers in one process. A demo aptqd
# of an earlier run goes first, so that its port counts as free.
if [ -f "$state/aptqd.pid" ] && kill -0 "$(cat "$state/aptqd.pid")" 2>/dev/null; then
	kill "$(cat "$state/aptqd.pid")"
	while kill -0 "$(cat "$state/aptqd.pid")" 2>/dev/null; do sleep 0.1; done
fi
moved=
if port_taken "$host" "$port"; then
	moved=$(free_port_after "$port")
	echo "== $addr is taken (by another program); using 127.0.0.1:$moved instead (set APTQ_LISTEN to choose)"
fi
for attempt in 1 2 3 4 5; do
	export APTQ_LISTEN=$addr
	[ -z "$moved" ] || APTQ_LISTEN=127.0.0.1:$moved
	start_aptqd && break
	# A port the demo chose can be taken between the check and aptqd's bind
	# (tests and other programs open ports all the time): take the next.
	if [ -n "$moved" ] && [ "$attempt" -lt 5 ] && grep -q "address already in use" "$state/aptqd.log"; then
		moved=$(free_port_after "$moved")
		echo "== that port was taken meanwhile; using 127.0.0.1:$moved instead"
		continue
	fi
	aptqd_failed "aptqd exited during start-up (status $rc)"
done
export APTQ_URL="http://$(dialable "$APTQ_LISTEN")"
echo "== aptqd is serving on $APTQ_URL (log: .aptq/aptqd.log, stop: make stop)"

# 2. A tenant, a key (the private half stays here), a repository, a release.
tenant="demo-$(date +%s)"
APTQ_TOKEN=$("$bin/aptqd" admin create-tenant "$tenant")
export APTQ_TOKEN
"$bin/aptq" key generate --name "aptq demo" --email demo@example.com --out "$demo/signing.asc"
"$bin/aptq" repo create demo
"$bin/aptq" key add --repo demo "$demo/signing.pub.asc"
"$bin/aptq" release create --repo demo --release stable --architectures amd64,arm64 --description "aptq demo"

# 3. Three packages with a dependency chain: hello-aptq → libaptq-demo1 → aptq-demo-data (all).
build_deb() { # name version arch depends
	local dir="$demo/build/$1"
	mkdir -p "$dir/DEBIAN" "$dir/usr/share/doc/$1"
	echo "$1 $2, published by the aptq demo" >"$dir/usr/share/doc/$1/README"
	{
		echo "Package: $1"
		echo "Version: $2"
		echo "Architecture: $3"
		echo "Maintainer: aptq demo <demo@example.com>"
		[ -n "$4" ] && echo "Depends: $4"
		echo "Description: aptq demo package $1"
		echo " Published concurrently by make demo."
	} >"$dir/DEBIAN/control"
	dpkg-deb --build --root-owner-group "$dir" "$demo/$1_$2_$3.deb" >/dev/null
}
build_deb aptq-demo-data 1.0 all ""
build_deb libaptq-demo1 1.0-1 amd64 "aptq-demo-data (>= 1.0)"
build_deb hello-aptq 2.0-1 amd64 "libaptq-demo1 (>= 1.0)"

# 4. Publish all three at once, as three CI jobs would.
echo "== publishing 3 packages concurrently"
pids=()
for deb in "$demo"/*.deb; do
	"$bin/aptq" pkg add --repo demo --release stable --key "$demo/signing.asc" "$deb" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

# 5. A real apt client, with a throwaway configuration, reads what aptq published.
url="$APTQ_URL/apt/$tenant/demo"
apt="$demo/apt"
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc"
: >"$apt/status"
gpg --dearmor <"$demo/signing.pub.asc" >"$apt/demo.gpg"
echo "deb [signed-by=$apt/demo.gpg] $url stable main" >"$apt/etc/sources.list"
aptopts=(-o "Dir::State=$apt" -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
	-o "Dir::Cache=$apt" -o "Dir::Cache::archives=$apt/archives" -o "Dir::Etc::SourceList=$apt/etc/sources.list"
	-o "Dir::Etc::SourceParts=/dev/null" -o "Dir::Etc::Parts=/dev/null" -o "Dir::Etc::Preferences=/dev/null"
	-o "Dir::Etc::PreferencesParts=/dev/null" -o "APT::Architecture=amd64" -o "APT::Sandbox::User=root"
	-o "Debug::NoLocking=1" -o "Acquire::Languages=none")
echo "== apt-get update against $url"
apt-get "${aptopts[@]}" update
echo "== apt-get install --download-only hello-aptq"
apt-get "${aptopts[@]}" install -y --download-only hello-aptq
ls -l "$apt/archives/"*.deb
echo
echo "The repository is live at $url (dists/stable/InRelease)."
cat <<NEXT

== next steps
The binaries: $bin/aptq (the CLI) and $bin/aptqd (the server; running, stop it with make stop).
Work as the demo tenant ($tenant), whose admin token this is:

  export APTQ_URL=$APTQ_URL APTQ_TOKEN=$APTQ_TOKEN
  $bin/aptq job list
  $bin/aptq pkg add --repo demo --release stable --key $demo/signing.asc FILE.deb

Install the repository on a Debian or Ubuntu machine that reaches $APTQ_URL:

  sudo install -d -m 0755 /etc/apt/keyrings
  gpg --dearmor <$demo/signing.pub.asc | sudo tee /etc/apt/keyrings/aptq-demo.gpg >/dev/null
  echo "deb [signed-by=/etc/apt/keyrings/aptq-demo.gpg] $url stable main" | sudo tee /etc/apt/sources.list.d/aptq-demo.list
  sudo apt-get update && sudo apt-get install hello-aptq
NEXT
