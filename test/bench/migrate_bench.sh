#!/usr/bin/env bash
# test/bench/migrate_bench.sh: throughput and memory of vecq-migrate on a
# large real Chroma 1.0 persist directory.
#
#   bash test/bench/migrate_bench.sh [--records N] [--dim D] [--subset M]
#        [--batches 1000,5000,20000] [--index-batches 5000|all] [--rounds R]
#        [--verify] [--fsync on|off] [--cache DIR] [--migrate PATH]
#        [--port P] [--chroma-port P] [--set 'NAME = VALUE']...
#
# Defaults: 200000 records x 768 dimensions, a 50000-record directory of the
# same kind beside it, batches 1000, 5000 and 20000, 2 rounds, fsync on.
# The runs with a batch size in --index-batches (and every run of the
# smaller directory, at --batch 5000) go to the end; the others are stopped
# (pg_cancel_backend) once the closing HNSW build starts, which takes
# minutes at 200k x 768, and report the copy phase and memory only.
#
# 1. Data.  DIR/chroma-NxD (and DIR/chroma-MxD) are made once, by the real
#    Chroma server (test/migrate/make_bench_dir.mjs: chromadb 3.0.9, bindings
#    1.0.1, from test/migrate/node_modules), and kept: the cache is
#    $VECQ_MIGRATE_BENCH_CACHE or /var/tmp/vecq-migrate-bench (--cache).  The
#    mix is printed: records whose vector is in the HNSW files, and log
#    entries after what the HNSW files hold.
# 2. A throwaway cluster (settings printed; --set adds postgresql.conf
#    lines, which win over the defaults here), a fresh database per run with
#    CREATE EXTENSION vecq, and vecq-migrate --from DIR --to that database
#    --batch B under /usr/bin/time -v, its process and the backend serving it
#    sampled every 0.2 s from /proc (VmHWM, RssAnon, RssFile).
# 3. Phases: "copy" from the start of vecq-migrate to its first statement
#    of target_finish (reading the source, COPY, the checkpoints), by the
#    server log's timestamps (log_min_duration_statement = 0); from the
#    same log the durations of target_finish's closing _sync_collection
#    (the HNSW build), ANALYZE and COMMIT.  With --verify, a second run of
#    vecq-migrate --verify on the copied database is timed on its own.
# 4. A table: seconds and vectors/s per phase and end to end, peak RSS of
#    vecq-migrate and of the backend.
#
# As root on Debian 12 with vecq installed (this script neither builds nor
# installs the extension); vecq-migrate is src/migrate/vecq-migrate unless
# --migrate or $VECQ_MIGRATE says otherwise.  Ports: 54431 and 18331 by
# default.
set -euo pipefail

. "$(dirname "$0")/../lib.sh"

records=200000
dim=768
subset=50000
batches=1000,5000,20000
index_batches=5000
rounds=2
verify=0
fsync=on
cache=${VECQ_MIGRATE_BENCH_CACHE:-/var/tmp/vecq-migrate-bench}
migrate=${VECQ_MIGRATE:-$VECQ_ROOT/src/migrate/vecq-migrate}
port=54431
chroma_port=18331
extra_settings=()
while [ $# -gt 0 ]; do
	case $1 in
		--records) records=$2; shift 2 ;;
		--dim) dim=$2; shift 2 ;;
		--subset) subset=$2; shift 2 ;;
		--batches) batches=$2; shift 2 ;;
		--index-batches) index_batches=$2; shift 2 ;;
		--rounds) rounds=$2; shift 2 ;;
		--verify) verify=1; shift ;;
		--fsync) fsync=$2; shift 2 ;;
		--cache) cache=$2; shift 2 ;;
		--migrate) migrate=$2; shift 2 ;;
		--port) port=$2; shift 2 ;;
		--chroma-port) chroma_port=$2; shift 2 ;;
		--set) extra_settings+=("$2"); shift 2 ;;
		*) echo "unknown option $1 (see the head of $0)" >&2; exit 2 ;;
	esac
done
[ -x "$migrate" ] || { echo "no vecq-migrate at $migrate (make -C src/migrate)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 1; }

# ---- the data -------------------------------------------------------------------

make_dir() {
	local n=$1 out="$cache/chroma-${1}x$dim"
	if [ ! -f "$out/bench.json" ]; then
		[ -d "$VECQ_ROOT/test/migrate/node_modules/chromadb" ] || {
			echo "test/migrate/node_modules is missing: npm ci in test/migrate" >&2
			exit 1
		}
		rm -rf "$out"
		mkdir -p "$cache"
		vecq_say "making $out (the Chroma server adds $n records; minutes)"
		node "$VECQ_ROOT/test/migrate/make_bench_dir.mjs" "$out" --records "$n" \
			--dim "$dim" --port "$chroma_port" >&2
	fi
	echo "$out"
}

# records in the HNSW files and log entries after them
describe_dir() {
	local d=$1 seg hnsw=0 vseq log
	seg=$(sqlite3 "file:$d/chroma.sqlite3?mode=ro&immutable=1" \
		"SELECT id FROM segments WHERE scope = 'VECTOR'")
	if [ -f "$d/$seg/header.bin" ]; then
		hnsw=$(od -An -t u8 -j 20 -N 8 "$d/$seg/header.bin" | tr -d ' ')
	fi
	vseq=$(sqlite3 "file:$d/chroma.sqlite3?mode=ro&immutable=1" \
		"SELECT coalesce((SELECT seq_id FROM max_seq_id WHERE segment_id = '$seg'), 0)")
	log=$(sqlite3 "file:$d/chroma.sqlite3?mode=ro&immutable=1" \
		"SELECT count(*) FROM embeddings_queue WHERE seq_id > $vseq")
	printf '%s: %s, HNSW files hold %s elements (up to log entry %s), %s log entries after them, %s in embeddings_queue in all\n' \
		"$d" "$(du -sh "$d" | cut -f1)" "$hnsw" "$vseq" "$log" \
		"$(sqlite3 "file:$d/chroma.sqlite3?mode=ro&immutable=1" 'SELECT count(*) FROM embeddings_queue')"
}

big=$(make_dir "$records")
dirs=("$big")
if [ "$subset" -gt 0 ] && [ "$subset" != "$records" ]; then
	dirs+=("$(make_dir "$subset")")
fi

# ---- the cluster ------------------------------------------------------------------

settings=(
	"fsync = $fsync"
	"shared_buffers = 2GB"
	"max_wal_size = 16GB"
	"checkpoint_timeout = 30min"
	"max_parallel_maintenance_workers = 1"
	"autovacuum = off"
	"jit = off"
	"log_min_duration_statement = 0"
	"log_line_prefix = '%m [%p] '"
	${extra_settings[@]+"${extra_settings[@]}"}
)
VECQ_PGPORT=$port vecq_cluster_start "${settings[@]}" >/dev/null
results=
trap 'vecq_cluster_stop; [ -z "$results" ] || rm -f "$results"' EXIT
log="$(dirname "$VECQ_PGDATA")/server.log"

# a fresh cluster's shared buffers are not mapped yet: its first run would
# pay a page fault for each buffer a relation is extended into, which a
# server that has been up for a while does not; touch them all once (a
# table of one row per page, as many pages as shared buffers, dropped)
vecq_say "touching the shared buffers"
"$PG_BINDIR/psql" -XAq -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE warm (a text);
ALTER TABLE warm ALTER a SET STORAGE PLAIN;
INSERT INTO warm SELECT repeat('x', 7000)
  FROM generate_series(1, (SELECT setting::int FROM pg_settings WHERE name = 'shared_buffers'));
DROP TABLE warm;
CHECKPOINT;
SQL

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "== vecq-migrate $migrate ($(git -C "$VECQ_ROOT" describe --always --dirty 2>/dev/null || echo '?'))"
echo "== cluster: ${settings[*]}; wal_level $("$PG_BINDIR/psql" -XAtc 'SHOW wal_level')"
for d in "${dirs[@]}"; do echo "== $(describe_dir "$d")"; done

# ---- the runs ---------------------------------------------------------------------

# sample PID's /proc status into FILE until it exits: max RssAnon, RssFile, VmHWM (kB)
sample() {
	local pid=$1 out=$2 anon=0 file=0 hwm=0 k v
	while [ -r "/proc/$pid/status" ]; do
		while read -r k v _; do
			case $k in
				RssAnon:) [ "$v" -gt "$anon" ] && anon=$v ;;
				RssFile:) [ "$v" -gt "$file" ] && file=$v ;;
				VmHWM:) [ "$v" -gt "$hwm" ] && hwm=$v ;;
			esac
		done <"/proc/$pid/status" 2>/dev/null || true
		echo "$anon $file $hwm" >"$out"
		sleep 0.2
	done
}

# the backend of the connection named APP, once it is there
backend_pid() {
	local i
	for i in $(seq 1 300); do
		p=$("$PG_BINDIR/psql" -XAtc "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' LIMIT 1" 2>/dev/null || true)
		[ -n "$p" ] && { echo "$p"; return; }
		sleep 0.1
	done
}

# seconds of the statements matching RE that backend PID ran (the last one if LAST)
stmt_seconds() {
	local pid=$1 re=$2 which=$3
	awk -v pid="[$pid]" -v re="$re" -v which="$which" '
		$4 == pid && /duration: / && $0 ~ re {
			for (i = 1; i <= NF; i++) if ($i == "duration:") ms = $(i + 1)
			sum += ms; last = ms
		}
		END { printf "%.2f", (which == "last" ? last : sum) / 1000 }' "$log"
}

# the log's timestamp of the first line of backend PID matching RE, in epoch seconds
stmt_time() {
	local line
	line=$(grep -F "[$1]" "$log" | grep -E "$2" | head -1 | awk '{ print $1 " " $2 " " $3 }')
	[ -n "$line" ] && date -d "$line" +%s.%N
}

results=$(mktemp /tmp/vecq-migrate-bench.XXXXXX)
run_one() {
	local dir=$1 batch=$2 round=$3 full=$4 db n app tfile sfile bfile mpid bpid wall rss
	n=$(sed -n 's/.*"records":\([0-9]*\).*/\1/p' "$dir/bench.json")
	db="bench_${n}_${batch}_$round"
	app="vecq-migrate-bench-$db"
	"$PG_BINDIR/dropdb" --if-exists "$db" 2>/dev/null
	"$PG_BINDIR/createdb" "$db"
	"$PG_BINDIR/psql" -XAq -d "$db" -c 'CREATE EXTENSION vecq'
	"$PG_BINDIR/psql" -XAq -c CHECKPOINT
	tfile=$(mktemp); sfile=$(mktemp); bfile=$(mktemp)
	echo "0 0 0" >"$sfile"; echo "0 0 0" >"$bfile"
	vecq_say "$(uptime | sed 's/.*load/load/'); $n records, --batch $batch, round $round$([ "$full" = 1 ] || echo ', copy only')"
	local t0
	t0=$(date +%s.%N)
	PGAPPNAME=$app /usr/bin/time -v -o "$tfile" "$migrate" --from "$dir" --to "dbname=$db" \
		--batch "$batch" >"$tfile.out" 2>"$tfile.err" &
	local tpid=$!
	for _ in $(seq 1 50); do mpid=$(pgrep -P "$tpid" || true); [ -n "$mpid" ] && break; sleep 0.02; done
	[ -n "$mpid" ] && sample "$mpid" "$sfile" &
	bpid=$(backend_pid "$app")
	[ -n "$bpid" ] && sample "$bpid" "$bfile" &
	if [ "$full" != 1 ]; then
		# stop it once the closing index build has started
		local seen=0 q
		while kill -0 "$tpid" 2>/dev/null; do
			q=$("$PG_BINDIR/psql" -XAtc "SELECT query FROM pg_stat_activity WHERE pid = $bpid" 2>/dev/null || true)
			case $q in
				COPY*) seen=1 ;;
				*_sync_collection*) if [ $seen = 1 ]; then
						"$PG_BINDIR/psql" -XAtc "SELECT pg_cancel_backend($bpid)" >/dev/null
						break
					fi ;;
			esac
			sleep 0.1
		done
		wait "$tpid" || true
		grep -q 'canceling statement due to user request' "$tfile.err" \
			|| { cat "$tfile.out" "$tfile.err" >&2; exit 1; }
	else
		wait "$tpid" || { cat "$tfile.out" "$tfile.err" >&2; exit 1; }
	fi
	wait
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$tfile")
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tfile")
	local idx=- ana=- com=- copy ver=- tfin copy_stmt
	tfin=$(stmt_time "$bpid" "UPDATE chroma.collections SET dimension")
	copy=$(awk -v a="$t0" -v b="$tfin" 'BEGIN { printf "%.2f", b - a }')
	copy_stmt=$(stmt_seconds "$bpid" "COPY chroma_records" sum)
	if [ "$full" = 1 ]; then
		idx=$(stmt_seconds "$bpid" "_sync_collection" last)
		ana=$(stmt_seconds "$bpid" "ANALYZE" last)
		com=$(stmt_seconds "$bpid" "COMMIT" last)
	else
		wall=-
	fi
	if [ "$verify" = 1 ] && [ "$full" = 1 ]; then
		local v0 v1
		v0=$(date +%s.%N)
		"$migrate" --from "$dir" --to "dbname=$db" --verify >"$tfile.verify" 2>&1 \
			|| { cat "$tfile.verify" >&2; exit 1; }
		v1=$(date +%s.%N)
		ver=$(awk -v a="$v0" -v b="$v1" 'BEGIN { printf "%.1f", b - a }')
		grep -q 'verify passed' "$tfile.verify" || { cat "$tfile.verify" >&2; exit 1; }
	fi
	read -r manon mfile mhwm <"$sfile"
	read -r banon bfile_ bhwm <"$bfile"
	echo "$n $batch $round $wall $copy $copy_stmt $idx $ana $com $ver $rss $manon $mfile $bhwm $banon $(cut -d' ' -f1 /proc/loadavg)" >>"$results"
	"$PG_BINDIR/psql" -XAt -d "$db" -c "SELECT pg_size_pretty(pg_database_size('$db'))" | sed "s/^/== $db: /" >&2
	"$PG_BINDIR/dropdb" "$db"
	rm -f "$tfile" "$tfile.out" "$tfile.err" "$tfile.verify" "$sfile" "$bfile"
}

IFS=, read -r -a batch_list <<<"$batches"
for round in $(seq 1 "$rounds"); do
	for b in "${batch_list[@]}"; do
		full=0
		case ",$index_batches," in *",$b,"* | ",all,") full=1 ;; esac
		run_one "$big" "$b" "$round" "$full"
	done
	if [ ${#dirs[@]} -gt 1 ]; then run_one "${dirs[1]}" 5000 "$round" 1; fi
done

echo
echo "seconds (vectors/s).  copy: start of vecq-migrate to target_finish (reading the source, COPY,"
echo "checkpoints); COPY: the COPY statements alone, server side; index: the HNSW build (closing"
echo "_sync_collection); end to end: vecq-migrate's wall time (- : run stopped after the copy);"
echo "verify: a separate vecq-migrate --verify.  MB: vecq-migrate peak RSS (time -v), its max"
echo "RssAnon / RssFile; backend VmHWM (includes shared buffers touched) / max RssAnon.  load: 1 min"
awk '
function rate(n, s) { return (s == "-" || s <= 0) ? "-" : sprintf("%.0f", n / s) }
BEGIN {
	printf "%7s %6s %2s | %15s | %15s | %6s | %15s | %7s %6s | %7s | %7s %6s %6s | %7s %6s | %5s\n",
		"records", "batch", "r", "end to end", "copy", "COPY", "index", "analyze", "commit",
		"verify", "migrate", "anon", "file", "backend", "anon", "load"
}
{
	n = $1
	printf "%7d %6d %2d | %6s (%6s) | %6.1f (%6s) | %6.1f | %6s (%6s) | %7s %6s | %7s | %7.0f %6.0f %6.0f | %7.0f %6.0f | %5s\n",
		n, $2, $3, $4, rate(n, $4), $5, rate(n, $5), $6, $7, rate(n, $7), $8, $9, $10,
		$11 / 1024, $12 / 1024, $13 / 1024, $14 / 1024, $15 / 1024, $16
}' "$results"
rm -f "$results"
