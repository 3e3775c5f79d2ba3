# Sourced by .ci/run (bash): a throwaway PostgreSQL server for the tests that also run on PostgreSQL.
#
# start_test_postgres  creates a cluster with the newest installed server (Debian's postgresql package,
#                      /usr/lib/postgresql/<version>/bin) in a temporary directory, starts it on a free
#                      loopback port, creates the role fedprune and the database fedprune_test it owns,
#                      and exports FEDPRUNE_TEST_POSTGRES_URL, _USER and _PASSWORD for the tests.
# stop_test_postgres   stops that server and deletes its directory; safe to call more than once.
#
# The cluster is its own, not the package's "main" cluster: it works whether or not that one exists or
# runs, leaves the machine as it found it, and needs no fixed port. It is for tests only, so it runs
# without fsync.

test_postgres_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# The server refuses to run as root; as root, its tools run as the postgres user the package creates.
_as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

_free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

start_test_postgres() {
  local bin dir port password
  bin=$(test_postgres_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/initdb)" >&2
    return 1
  fi
  dir=$(mktemp -d /tmp/fedprune-postgres.XXXXXX) # short: the socket path has a length limit
  TEST_POSTGRES_DIR=$dir
  TEST_POSTGRES_BIN=$bin
  TEST_POSTGRES_PORT=
  chmod 700 "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
  fi
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  # initdb wants a superuser password when TCP logins need one; the superuser itself only logs in over
  # the socket in $dir, which trusts it.
  _as_postgres sh -c "umask 077 && printf '%s\n' '$password' > '$dir/pwfile'"
  _as_postgres "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$dir/pwfile" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  rm -f "$dir/pwfile"
  for _ in 1 2 3 4 5; do # another process may take the port first
    port=$(_free_port) || break
    if _as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null; then
      TEST_POSTGRES_PORT=$port
      break
    fi
  done
  if [ -z "${TEST_POSTGRES_PORT:-}" ]; then
    echo "PostgreSQL did not start; its log:" >&2
    cat "$dir/server.log" >&2 || true
    return 1
  fi
  _as_postgres "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$TEST_POSTGRES_PORT" -U postgres -d postgres \
    -c "create role fedprune login password '$password'" \
    -c "create database fedprune_test owner fedprune"
  export FEDPRUNE_TEST_POSTGRES_URL="jdbc:postgresql://127.0.0.1:$TEST_POSTGRES_PORT/fedprune_test"
  export FEDPRUNE_TEST_POSTGRES_USER=fedprune
  export FEDPRUNE_TEST_POSTGRES_PASSWORD=$password
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') started for the tests: $FEDPRUNE_TEST_POSTGRES_URL (data in $dir)"
}

stop_test_postgres() {
  if [ -n "${TEST_POSTGRES_DIR:-}" ] && [ -d "$TEST_POSTGRES_DIR" ]; then
    if [ -f "$TEST_POSTGRES_DIR/data/postmaster.pid" ]; then
      _as_postgres "$TEST_POSTGRES_BIN/pg_ctl" -D "$TEST_POSTGRES_DIR/data" -m fast -w -t 60 stop >/dev/null \
        && echo "PostgreSQL stopped" || echo "PostgreSQL did not stop cleanly; its log is in $TEST_POSTGRES_DIR/server.log" >&2
    fi
    if [ ! -f "$TEST_POSTGRES_DIR/data/postmaster.pid" ]; then
      rm -rf "$TEST_POSTGRES_DIR"
    fi
  fi
  TEST_POSTGRES_DIR=
  unset FEDPRUNE_TEST_POSTGRES_URL FEDPRUNE_TEST_POSTGRES_USER FEDPRUNE_TEST_POSTGRES_PASSWORD
}
