#!/usr/bin/env bash
# Starts, stops and reports meter2cash's local services: a single-node KRaft Kafka broker
# (jars from Maven Central, run on JDK 17), a PostgreSQL cluster and a Redis server, each with
# the project's own data directory and ports. Idempotent: `up` on running services only checks them.
#
#   scripts/services.sh install        # Debian packages and the Kafka jars, nothing started
#   scripts/services.sh up|down|status [kafka|postgres|redis ...]
#
# Settings (environment): M2C_DATA_DIR (default ./.m2c), M2C_KAFKA_PORT (9092),
# M2C_KAFKA_CONTROLLER_PORT (9093), M2C_PG_PORT (55432), M2C_REDIS_PORT (6380).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${M2C_DATA_DIR:-$ROOT/.m2c}
KAFKA_PORT=${M2C_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${M2C_KAFKA_CONTROLLER_PORT:-9093}
# the broker's message.max.bytes: M2C_MESSAGE_MAX_BYTES plus the record overhead, as
# meter2cash/settings.py (Settings.kafka_record_limit) gives every topic and client
KAFKA_RECORD_LIMIT=$(( ${M2C_MESSAGE_MAX_BYTES:-4194304} + 65536 ))
PG_PORT=${M2C_PG_PORT:-55432}
REDIS_PORT=${M2C_REDIS_PORT:-6380}
PG_USER=m2c
PG_DB=m2c
KAFKA_LIBS=$ROOT/deploy/kafka/target/libs
WAIT_SECONDS=${M2C_SERVICE_WAIT:-90}

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root (or sudo) for: $*"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- install
pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && echo "$dir"
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_all() {
  # prometheus: its promtool checks the alert rules in the tests (no server is started)
  # fonts-dejavu-core: the Unicode font bills are printed to PDF with
  # chromium, chromium-driver: the tests drive the portal's pages in a real headless browser
  apt_install postgresql redis-server openjdk-17-jre-headless maven docker-compose python3 prometheus \
    fonts-dejavu-core chromium chromium-driver
  # the Debian packages start their own default instances; the project runs its own
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
  if [ ! -f "$KAFKA_LIBS/.complete" ]; then
    log "fetching the Kafka broker from Maven Central"
    mvn -q -B -Dstyle.color=never -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies
    touch "$KAFKA_LIBS/.complete"
  fi
}

# ---------------------------------------------------------------- postgres
pg_run() {  # initdb and postgres refuse to run as root: use the postgres account then
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_data_dir() {
  # as root the cluster runs as the postgres account, which may not reach a checkout under a private
  # home directory: then the cluster lives under /var/lib/meter2cash, one per checkout
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$DATA" 2>/dev/null; then
    echo "/var/lib/meter2cash/$(printf '%s' "$ROOT" | md5sum | cut -c1-12)/postgres"
  else
    echo "$DATA/postgres"
  fi
}

pg_clear_stale() {
  # a postmaster killed without a shutdown leaves its pid file, and may leave backends holding its
  # shared memory: a new postmaster would refuse to start (or wait) while either is there
  local pidfile=$PG_DATA/postmaster.pid pid here proc
  [ -f "$pidfile" ] || return 0
  pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
  here=$(readlink -f "$PG_DATA")
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] \
      && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$here" ]; then
    return 0  # the postmaster is alive
  fi
  log "PostgreSQL's postmaster (pid ${pid:-?}) is gone: clearing what it left in $PG_DATA"
  for proc in /proc/[0-9]*; do  # its orphaned backends: processes working in the data directory
    if [ "$(readlink "$proc/cwd" 2>/dev/null)" = "$here" ]; then kill -KILL "${proc#/proc/}" 2>/dev/null || true; fi
  done
  rm -f "$pidfile"
}

postgres_up() {
  local bin; bin=$(pg_bin) || die "PostgreSQL is not installed (run: $0 install)"
  mkdir -p "$PG_DATA"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_DATA"; chmod 700 "$PG_DATA"
    runuser -u postgres -- test -x "$PG_DATA" || die "the postgres account cannot reach $PG_DATA"
  fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "creating the PostgreSQL cluster in $PG_DATA"
    pg_run "$bin/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$PG_DATA/postgresql.conf" <<EOF
# meter2cash
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''   # TCP on 127.0.0.1 only
max_connections = 100
shared_buffers = 1GB
work_mem = 32MB
maintenance_work_mem = 256MB
wal_compression = on
max_wal_size = 4GB
checkpoint_timeout = 15min
EOF
  fi
  pg_clear_stale
  if ! pg_run "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    pg_run "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t "$WAIT_SECONDS" start >/dev/null \
      || { tail -n 20 "$PG_DATA/server.log" >&2 || true; die "PostgreSQL did not start (see $PG_DATA/server.log)"; }
  fi
  local i
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then break; fi
    sleep 1
  done
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL did not accept connections (see $PG_DATA/server.log)"
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
      "select 1 from pg_database where datname = '$PG_DB'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
  fi
}

postgres_down() {
  local bin; bin=$(pg_bin) || return 0
  [ -f "$PG_DATA/PG_VERSION" ] || return 0
  if pg_run "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "stopping PostgreSQL"
    pg_run "$bin/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
  fi
}

postgres_status() {
  local bin; bin=$(pg_bin) || { echo "postgres: not installed"; return 1; }
  if "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -tAc 'select 1' >/dev/null 2>&1; then
    echo "postgres: up (postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB)"
  else
    echo "postgres: down"; return 1
  fi
}

# ---------------------------------------------------------------- redis
REDIS_DIR=$DATA/redis
redis_up() {
  command -v redis-server >/dev/null || die "redis-server is not installed (run: $0 install)"
  mkdir -p "$REDIS_DIR"
  if ! redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    # a cache rebuilt from PostgreSQL: no persistence needed
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --daemonize yes \
      --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --save '' --appendonly no
  fi
  local i
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  die "Redis did not answer PING (see $REDIS_DIR/redis.log)"
}

redis_down() {
  if command -v redis-cli >/dev/null && redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    log "stopping Redis"
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
}

redis_status() {
  if command -v redis-cli >/dev/null && redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    echo "redis: up (redis://127.0.0.1:$REDIS_PORT/0)"
  else
    echo "redis: down"; return 1
  fi
}

# ---------------------------------------------------------------- kafka
KAFKA_DIR=$DATA/kafka
kafka_java() {
  java -Xms1g -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_DIR" -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_ready() {  # the broker answers a metadata request, not just a TCP connect
  port_open "$KAFKA_PORT" || return 1
  "$ROOT/scripts/kafka_ready.py" "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1
}

kafka_up() {
  [ -f "$KAFKA_LIBS/.complete" ] || die "the Kafka jars are missing (run: $0 install)"
  command -v java >/dev/null || die "java is not installed (run: $0 install)"
  mkdir -p "$KAFKA_DIR/data"
  local conf=$KAFKA_DIR/server.properties
  cat > "$conf" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
log.segment.bytes=268435456
message.max.bytes=$KAFKA_RECORD_LIMIT
EOF
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "formatting Kafka storage in $KAFKA_DIR/data"
    kafka_java kafka.tools.StorageTool format -t "$(cat /proc/sys/kernel/random/uuid | tr -d - | head -c 22)" \
      -c "$conf" >"$KAFKA_DIR/format.log" 2>&1 || { cat "$KAFKA_DIR/format.log" >&2; die "Kafka storage format failed"; }
  fi
  if ! kafka_ready; then
    if [ -f "$KAFKA_DIR/kafka.pid" ] && kill -0 "$(cat "$KAFKA_DIR/kafka.pid")" 2>/dev/null; then
      log "Kafka is starting (pid $(cat "$KAFKA_DIR/kafka.pid"))"
    else
      log "starting Kafka on 127.0.0.1:$KAFKA_PORT"
      nohup bash -c "$(declare -f kafka_java); KAFKA_DIR='$KAFKA_DIR' ROOT='$ROOT' KAFKA_LIBS='$KAFKA_LIBS' kafka_java kafka.Kafka '$conf'" \
        >"$KAFKA_DIR/stdout.log" 2>&1 &
      echo $! > "$KAFKA_DIR/kafka.pid"
    fi
  fi
  local i
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    kafka_ready && return 0
    kill -0 "$(cat "$KAFKA_DIR/kafka.pid")" 2>/dev/null || { tail -n 30 "$KAFKA_DIR/stdout.log" "$KAFKA_DIR/server.log" >&2 || true; die "Kafka exited"; }
    sleep 0.5
  done
  die "Kafka did not answer within ${WAIT_SECONDS}s (see $KAFKA_DIR/server.log)"
}

kafka_down() {
  local pidfile=$KAFKA_DIR/kafka.pid
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping Kafka"
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do port_open "$KAFKA_PORT" || break; sleep 0.5; done
    pkill -KILL -P "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

kafka_status() {
  if kafka_ready; then echo "kafka: up (127.0.0.1:$KAFKA_PORT)"; else echo "kafka: down"; return 1; fi
}

# ---------------------------------------------------------------- main
mkdir -p "$DATA"
PG_DATA=$(pg_data_dir)
cmd=${1:-status}; shift || true
services=("$@"); [ ${#services[@]} -eq 0 ] && services=(postgres redis kafka)
case "$cmd" in
  install) install_all ;;
  up)
    install_all
    for s in "${services[@]}"; do "${s}_up"; done
    for s in "${services[@]}"; do "${s}_status"; done ;;
  down)
    for s in "${services[@]}"; do "${s}_down"; done ;;
  status)
    rc=0; for s in "${services[@]}"; do "${s}_status" || rc=1; done; exit $rc ;;
  reset)  # stop and delete the project's service data
    for s in "${services[@]}"; do "${s}_down"; done
    rm -rf "$DATA" "$PG_DATA" ;;
  *) die "usage: $0 install|up|down|status|reset [kafka|postgres|redis ...]" ;;
esac
