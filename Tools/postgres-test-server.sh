#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: a new cluster in a folder of its own, listening only on 127.0.0.1 on a
# free port (no Unix socket), trust authentication for local TCP, fsync on, with a database `acty` owned by the
# superuser `acty`.
#   Tools/postgres-test-server.sh start DIR [--owner-pid PID]   initdb into DIR/data and start; prints the URL
#   Tools/postgres-test-server.sh url DIR                        prints postgres://acty@127.0.0.1:PORT/acty?sslmode=disable
#   Tools/postgres-test-server.sh stop DIR                       stops the server and removes DIR
# DIR must be missing or empty. With --owner-pid, a watcher stops the server once process PID has ended, so a test
# process that crashes leaves no server behind. Run as root, the server runs as the `postgres` user (initdb refuses
# root). Every wait is bounded: start fails after 30 s rather than hang.
set -euo pipefail

usage() { echo "usage: $0 start DIR [--owner-pid PID] | url DIR | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
command="$1"
dir="$2"
shift 2

# PostgreSQL's programs: on PATH, else Debian's versioned folder (newest first).
find_bin() {
    if command -v "$1" >/dev/null; then command -v "$1"; return; fi
    local candidate
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -nr); do
        if [ -x "$candidate/$1" ]; then echo "$candidate/$1"; return; fi
    done
    echo "postgres-test-server: $1 not found (install postgresql)" >&2
    exit 1
}

# Runs a command as the server's owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

server_url() { echo "postgres://acty@127.0.0.1:$(cat "$dir/port")/acty?sslmode=disable"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
    local initdb pg_ctl psql owner_pid=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --owner-pid) owner_pid="$2"; shift ;;
            *) usage ;;
        esac
        shift
    done
    initdb="$(find_bin initdb)"
    pg_ctl="$(find_bin pg_ctl)"
    psql="$(find_bin psql)"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    # --no-sync: the cluster is thrown away, so initdb need not flush its files; the server itself runs with fsync.
    as_owner "$initdb" -D "$dir/data" -U acty --auth=trust --no-sync --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }

    local attempt port started=0
    for attempt in $(seq 1 20); do
        port=$((20000 + RANDOM % 40000))
        port_in_use "$port" && continue
        if as_owner "$pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c fsync=on" >/dev/null; then
            started=1
            break
        fi
        # Another process took the port between the check and the bind: try another one.
        grep -q "could not bind\|could not create any TCP/IP sockets" "$dir/server.log" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    done
    [ "$started" -eq 1 ] || { echo "postgres-test-server: found no free port" >&2; exit 1; }
    echo "$port" >"$dir/port"
    "$psql" "postgres://acty@127.0.0.1:$port/postgres?sslmode=disable&connect_timeout=10" -q -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE acty" >/dev/null

    if [ -n "$owner_pid" ]; then
        # Detached from our standard streams, so whoever reads them does not wait for the watcher.
        (
            while kill -0 "$owner_pid" 2>/dev/null; do sleep 1; done
            "$0" stop "$dir"
        ) </dev/null >/dev/null 2>&1 &
    fi
    server_url
}

stop() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$(find_bin pg_ctl)" stop -D "$dir/data" -m immediate -w -t 30 >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "$command" in
    start) start "$@" ;;
    url) server_url ;;
    stop) stop ;;
    *) usage ;;
esac
