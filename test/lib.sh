# test/lib.sh: shell functions shared by test/run_tests.sh, test/demo.sh and
# the benchmarks: install build dependencies, build and install vecq, and run
# a throwaway PostgreSQL cluster as a non-root OS user (initdb refuses root).
#
# Source it from bash; it defines functions and sets nothing else.

VECQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# another PostgreSQL 15 installation (a relocated copy, for isolated work): VECQ_PG_BINDIR
PG_BINDIR=${VECQ_PG_BINDIR:-/usr/lib/postgresql/15/bin}

# Debian packages the build, the tests and the demo need.
VECQ_APT_PACKAGES="build-essential postgresql-15 postgresql-server-dev-15
	postgresql-client-15 libpq-dev clang libclang-rt-14-dev llvm
	libipc-run-perl zlib1g-dev dataset-fashion-mnist nodejs npm
	libsqlite3-dev libjansson-dev libcurl4-openssl-dev sqlite3"

# Print a progress line to stderr.
vecq_say() {
	printf '== %s\n' "$*" >&2
}

# Install missing Debian packages (as root; runs apt-get update first).
vecq_install_deps() {
	local missing=()
	local p
	for p in $VECQ_APT_PACKAGES; do
		# node and npm may come from outside Debian's packages on this image
		if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
		if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
			|| missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		vecq_say "installing Debian packages: ${missing[*]}"
		if [ "$(id -u)" != 0 ]; then
			echo "need root to install: ${missing[*]}" >&2
			return 1
		fi
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# Build and install the extension into the system PostgreSQL 15.
vecq_build_install() {
	vecq_say "building and installing vecq"
	make -C "$VECQ_ROOT" -s -j"$(nproc)" PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
	make -C "$VECQ_ROOT" -s install PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
}

# Start a throwaway cluster.  Sets VECQ_PGDATA, PGHOST, PGPORT, PGUSER and
# exports them; vecq_cluster_stop removes it.  Extra postgresql.conf lines
# may be passed as arguments.
vecq_cluster_start() {
	local port=${VECQ_PGPORT:-54329}
	local base
	base=$(mktemp -d /tmp/vecq-cluster.XXXXXX)
	chown postgres:postgres "$base"
	VECQ_PGDATA="$base/data"
	export PGHOST="$base" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
	vecq_say "starting a throwaway cluster in $base on port $port"
	runuser -u postgres -- "$PG_BINDIR/initdb" -D "$VECQ_PGDATA" -A trust \
		-U postgres --no-sync -E UTF8 --locale=C >"$base/initdb.log" 2>&1 \
		|| { cat "$base/initdb.log" >&2; return 1; }
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$base'"
		echo "port = $port"
		echo "fsync = off"
		echo "max_prepared_transactions = 10"
		local line
		for line in "$@"; do echo "$line"; done
	} >>"$VECQ_PGDATA/postgresql.conf"
	runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$VECQ_PGDATA" -w -t 60 \
		-l "$base/server.log" start >/dev/null \
		|| { cat "$base/server.log" >&2; return 1; }
	export VECQ_PGDATA
}

# Stop and remove the cluster started by vecq_cluster_start.
vecq_cluster_stop() {
	[ -n "${VECQ_PGDATA:-}" ] || return 0
	runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$VECQ_PGDATA" -m immediate \
		stop >/dev/null 2>&1 || true
	rm -rf "$(dirname "$VECQ_PGDATA")"
	VECQ_PGDATA=
}
