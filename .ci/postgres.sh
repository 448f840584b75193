#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite (CI and local runs).
#
#   eval "$(.ci/postgres.sh start)"   # prints `export CLOUT_TEST_POSTGRES=...` and `export CLOUT_PG_DIR=...`
#   .ci/postgres.sh stop "$CLOUT_PG_DIR"
#
# The cluster lives in a temp dir, listens on a unix socket in that dir (no TCP port to clash
# with), trusts local connections, and is deleted by `stop`. As root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root). Installs the distribution's packages when
# no server binaries are found and apt-get is available.
set -euo pipefail

find_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir; return
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
    return 1
}

as_owner() {  # run a command as the cluster owner
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local bindir dir db=clout_test
    if ! bindir=$(find_bindir); then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "installing PostgreSQL from the distribution's packages" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
                || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
            bindir=$(find_bindir)
        else
            echo "no PostgreSQL server binaries found (install the postgresql package)" >&2
            return 1
        fi
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/clout-pg.XXXXXX")
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$dir"
    fi
    chmod 700 "$dir"
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    # Unix socket only (listen_addresses=''), in the cluster's own dir: no port clash with any
    # other server; fsync off: the data is thrown away anyway.
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2 || { cat "$dir/server.log" >&2; return 1; }
    as_owner "$bindir/createdb" -h "$dir" -U postgres "$db" >&2
    echo "export CLOUT_PG_DIR='$dir'"
    echo "export CLOUT_TEST_POSTGRES='postgresql://postgres@/$db?host=$dir'"
}

stop() {
    local dir=${1:-${CLOUT_PG_DIR:-}} bindir
    [ -n "$dir" ] && [ -d "$dir/data" ] || { echo "usage: $0 stop <dir printed by start>" >&2; return 1; }
    bindir=$(find_bindir)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf -- "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: $0 start | stop <dir>" >&2; exit 2 ;;
esac
