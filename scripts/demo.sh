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

addr=${APTQ_LISTEN:-127.0.0.1:8080}
export APTQ_URL="http://$addr"

# 1. The server: migrations, API and workers in one process.
if [ -f "$state/aptqd.pid" ] && kill -0 "$(cat "$state/aptqd.pid")" 2>/dev/null; then
	kill "$(cat "$state/aptqd.pid")"
	while kill -0 "$(cat "$state/aptqd.pid")" 2>/dev/null; do sleep 0.1; done
fi
nohup "$bin/aptqd" all >"$state/aptqd.log" 2>&1 &
echo $! >"$state/aptqd.pid"
for _ in $(seq 1 100); do
	curl -sf "$APTQ_URL/readyz" >/dev/null && break
	sleep 0.2
done
curl -sf "$APTQ_URL/readyz" >/dev/null || { echo "aptqd did not become ready; see $state/aptqd.log" >&2; exit 1; }
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
echo "sources.list line: deb [signed-by=/etc/apt/keyrings/demo.gpg] $url stable main"
