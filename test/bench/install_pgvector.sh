#!/usr/bin/env bash
# test/bench/install_pgvector.sh SRC_DIR [TAG]: build and install pgvector
# from a source checkout outside this repository, for benchmarks only (its
# code never enters vecq).  SRC_DIR is a git clone of pgvector/pgvector;
# TAG (default v0.8.6) is checked out into a temporary work tree.  Built with
# -march=native like the figures of ../shared/bench-targets.md.
set -euo pipefail

src=${1:?usage: install_pgvector.sh SRC_DIR [TAG]}
tag=${2:-v0.8.6}
. "$(dirname "$0")/../lib.sh"
vecq_install_deps

work=$(mktemp -d /tmp/pgvector-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
git -C "$src" archive --format=tar "$tag" | tar -x -C "$work"
make -C "$work" -s -j"$(nproc)" PG_CONFIG="$PG_BINDIR/pg_config" OPTFLAGS="-march=native" >/dev/null
make -C "$work" -s install PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
echo "installed pgvector $tag into $("$PG_BINDIR/pg_config" --pkglibdir)"
