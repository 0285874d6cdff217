#!/usr/bin/env bash
# Starts (idempotently) or stops the real servers aptq's tests and demo use:
# PostgreSQL and versitygw (S3), both on loopback, state under .aptq/.
# Usage: scripts/services.sh start|stop|status|restart-postgres
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.aptq"
pg_port=${APTQ_PG_PORT:-55432}
s3_port=${APTQ_S3_PORT:-57070}
s3_access=aptqdev
s3_secret=aptqdevsecret
bucket=aptq
versitygw_version=v1.8.0
pg_user=aptq-pg # Postgres refuses to run as root: root runs it as this system user.

log() { echo "services: $*" >&2; }

pg_bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] && { echo "$d"; return; }
	done
	command -v pg_ctl >/dev/null && { dirname "$(readlink -f "$(command -v pg_ctl)")"; return; }
	return 1
}

ensure_packages() {
	# Debian packages the tests and the demo use; installed only when missing.
	local missing=()
	command -v curl >/dev/null || missing+=(curl)
	command -v apt-ftparchive >/dev/null || missing+=(apt-utils)
	command -v reprepro >/dev/null || missing+=(reprepro)
	command -v dpkg-deb >/dev/null || missing+=(dpkg)
	command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
	command -v gpg >/dev/null || missing+=(gnupg)
	command -v runuser >/dev/null || missing+=(util-linux)
	command -v chromium >/dev/null || missing+=(chromium)
	command -v gpgv >/dev/null || missing+=(gpgv)
	command -v zstd >/dev/null || missing+=(zstd)
	command -v xz >/dev/null || missing+=(xz-utils)
	command -v apt-file >/dev/null || missing+=(apt-file)
	pg_bindir >/dev/null || missing+=(postgresql)
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$(id -u)" -ne 0 ]; then
		log "missing packages: ${missing[*]} (install them with apt-get, or run as root)"
		exit 1
	fi
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# as_pg runs a command as the user that owns the Postgres data directory.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$pg_user" -- "$@"
	else
		"$@"
	fi
}

pg_datadir() {
	# The data directory must be reachable by $pg_user; a checkout under /root is not,
	# so root keeps the data under /var/tmp and links it from .aptq/pg.
	if [ "$(id -u)" -ne 0 ]; then
		echo "$state/pg"
		return
	fi
	local hash
	hash=$(echo -n "$root" | sha256sum | cut -c1-12)
	echo "/var/tmp/aptq-pg-$hash"
}

start_postgres() {
	local bindir data
	bindir=$(pg_bindir)
	data=$(pg_datadir)
	if [ "$(id -u)" -eq 0 ]; then
		id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
		mkdir -p "$data"
		chown "$pg_user" "$data"
		chmod 700 "$data"
		ln -sfn "$data" "$state/pg"
	fi
	if [ ! -f "$data/PG_VERSION" ]; then
		log "initdb $data"
		as_pg "$bindir/initdb" -D "$data" -U aptq --auth=trust -E UTF8 --no-locale >"$state/initdb.log" 2>&1
	fi
	if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		return
	fi
	log "starting postgres on 127.0.0.1:$pg_port"
	# fsync off: a test server; its data is disposable and fsync dominates the suite's time.
	as_pg "$bindir/pg_ctl" -D "$data" -w -t 60 -l "$data/postgres.log" \
		-o "-h 127.0.0.1 -p $pg_port -k $data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" start >/dev/null
	if ! as_pg "$bindir/psql" -h 127.0.0.1 -p "$pg_port" -U aptq -d postgres -tAc "select 1 from pg_database where datname='aptq'" | grep -q 1; then
		as_pg "$bindir/createdb" -h 127.0.0.1 -p "$pg_port" -U aptq aptq
	fi
}

stop_postgres() {
	local bindir data
	bindir=$(pg_bindir) || return 0
	data=$(pg_datadir)
	[ -f "$data/PG_VERSION" ] || return 0
	if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		log "stopping postgres"
		as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	fi
}

s3_up() { curl -s -o /dev/null "http://127.0.0.1:$s3_port/" ; }

start_versitygw() {
	local bin="$state/bin/versitygw"
	if [ ! -x "$bin" ]; then
		log "building versitygw $versitygw_version (about 80 s the first time)"
		GOBIN="$state/bin" go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
	fi
	if [ -f "$state/versitygw.pid" ] && kill -0 "$(cat "$state/versitygw.pid")" 2>/dev/null; then
		return
	fi
	mkdir -p "$state/s3"
	log "starting versitygw on 127.0.0.1:$s3_port"
	nohup "$bin" --access "$s3_access" --secret "$s3_secret" --region us-east-1 --quiet \
		--port "127.0.0.1:$s3_port" posix "$state/s3" >"$state/versitygw.log" 2>&1 &
	echo $! >"$state/versitygw.pid"
	local i
	for i in $(seq 1 100); do
		s3_up && break
		kill -0 "$(cat "$state/versitygw.pid")" 2>/dev/null || { cat "$state/versitygw.log" >&2; exit 1; }
		sleep 0.1
	done
	s3_up || { log "versitygw did not come up"; exit 1; }
	# Create the bucket (200, or 409 when it exists); anything else means the
	# port answers but not with our server (e.g. a stale one on it).
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$s3_access:$s3_secret" "http://127.0.0.1:$s3_port/$bucket")
	if [ "$code" != 200 ] && [ "$code" != 409 ]; then
		log "creating bucket $bucket on 127.0.0.1:$s3_port answered HTTP $code; see $state/versitygw.log"
		cat "$state/versitygw.log" >&2
		exit 1
	fi
}

stop_versitygw() {
	local pidfile="$state/versitygw.pid"
	[ -f "$pidfile" ] || return 0
	if kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		log "stopping versitygw"
		kill "$(cat "$pidfile")"
	fi
	rm -f "$pidfile"
}

write_env() {
	cat >"$state/env" <<ENV
export APTQ_DATABASE_URL='postgres://aptq@127.0.0.1:$pg_port/aptq?sslmode=disable'
export APTQ_S3_ENDPOINT='http://127.0.0.1:$s3_port'
export APTQ_S3_BUCKET='$bucket'
export APTQ_S3_ACCESS_KEY='$s3_access'
export APTQ_S3_SECRET_KEY='$s3_secret'
export APTQ_S3_REGION='us-east-1'
export APTQ_LISTEN="\${APTQ_LISTEN:-127.0.0.1:8080}"
ENV
}

case "${1:-start}" in
start)
	mkdir -p "$state"
	ensure_packages
	start_postgres
	start_versitygw
	write_env
	;;
stop)
	if [ -f "$state/aptqd.pid" ] && kill -0 "$(cat "$state/aptqd.pid")" 2>/dev/null; then
		log "stopping aptqd"
		kill "$(cat "$state/aptqd.pid")"
	fi
	rm -f "$state/aptqd.pid"
	stop_versitygw
	stop_postgres
	;;
restart-postgres)
	# For fault tests: a real Postgres restart under load.
	data=$(pg_datadir)
	as_pg "$(pg_bindir)/pg_ctl" -D "$data" -m fast -w restart >/dev/null
	;;
status)
	data=$(pg_datadir)
	as_pg "$(pg_bindir)/pg_ctl" -D "$data" status || true
	s3_up && echo "versitygw: up on 127.0.0.1:$s3_port" || echo "versitygw: down"
	;;
*)
	echo "usage: $0 start|stop|status|restart-postgres" >&2
	exit 2
	;;
esac
