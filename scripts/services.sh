#!/usr/bin/env bash
# Starts and stops Turnout's local services on loopback: Apache Kafka (one KRaft node, from the
# official jars on Maven Central, run with the machine's JDK 17) and Redis (Debian's redis-server).
# Everything else (chDB, the vector store) runs in-process.
#
#   scripts/services.sh up      install what is missing, start what is not running (idempotent)
#   scripts/services.sh down    stop what `up` started
#   scripts/services.sh status  print what is running
#
# Ports and folders can be changed with the environment variables below.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/services/kafka/pom.xml")"
CACHE="${TURNOUT_CACHE:-$ROOT/.cache}"
RUN="${TURNOUT_RUN:-$ROOT/.run}"
KAFKA_PORT="${TURNOUT_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${TURNOUT_KAFKA_CONTROLLER_PORT:-19093}"
REDIS_PORT="${TURNOUT_REDIS_PORT:-16379}"
KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"

log() { echo "services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # wait_port PORT NAME SECONDS PIDFILE
  local deadline=$((SECONDS + $3))
  until port_open "$1"; do
    if [ -f "$4" ] && ! kill -0 "$(cat "$4")" 2>/dev/null; then
      log "$2 exited while starting; see $RUN/$2.log"; tail -20 "$RUN/$2.log" >&2 || true; return 1
    fi
    if [ $SECONDS -ge $deadline ]; then log "$2 not up on port $1 after $3 s"; return 1; fi
    sleep 0.2
  done
}

install_kafka() {
  [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && return 0
  command -v mvn >/dev/null || { log "Maven (mvn) is required to fetch Kafka"; exit 1; }
  command -v java >/dev/null || { log "JDK 17 (java) is required to run Kafka"; exit 1; }
  log "fetching Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS.tmp"
  mvn -q -B -Dstyle.color=never -f "$ROOT/services/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp"
  rm -rf "$KAFKA_LIBS" && mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
}

install_redis() {
  command -v redis-server >/dev/null && return 0
  log "installing Debian's redis-server"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
}

install_chromium() {  # for the dashboards' browser test: Debian's chromium, headless
  command -v chromium >/dev/null && return 0
  log "installing Debian's chromium (the dashboards' browser test)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
}

kafka_up() {
  install_kafka
  local dir="$RUN/kafka" pidfile="$RUN/kafka.pid"
  if port_open "$KAFKA_PORT"; then log "kafka already up on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  mkdir -p "$dir"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=2
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.retention.hours=24
log.segment.bytes=67108864
PROPS
  cat > "$dir/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$RUN/kafka-server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
PROPS
  local cp="$KAFKA_LIBS/*"
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    java -Dlog4j.configuration="file:$dir/log4j.properties" -cp "$cp" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$dir/server.properties" >/dev/null
  fi
  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$dir/log4j.properties" -cp "$cp" kafka.Kafka "$dir/server.properties" \
    >"$RUN/kafka.log" 2>&1 &
  echo $! > "$pidfile"
  wait_port "$KAFKA_PORT" kafka 90 "$pidfile"
}

redis_up() {
  install_redis
  local pidfile="$RUN/redis.pid"
  if port_open "$REDIS_PORT"; then log "redis already up on 127.0.0.1:$REDIS_PORT"; return 0; fi
  mkdir -p "$RUN/redis"
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RUN/redis" --save "" --appendonly no \
    --daemonize yes --pidfile "$pidfile" --logfile "$RUN/redis.log"
  wait_port "$REDIS_PORT" redis 20 "$pidfile"
}

stop() {  # stop NAME
  local pidfile="$RUN/$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  up) mkdir -p "$RUN"; redis_up; kafka_up;
      echo "kafka=127.0.0.1:$KAFKA_PORT redis=redis://127.0.0.1:$REDIS_PORT/0" ;;
  browser) install_chromium; command -v chromium ;;
  down) stop kafka; stop redis ;;
  reset) stop kafka; stop redis; rm -rf "$RUN/kafka" "$RUN/redis" ;;
  status)
    port_open "$KAFKA_PORT" && echo "kafka up 127.0.0.1:$KAFKA_PORT" || echo "kafka down"
    port_open "$REDIS_PORT" && echo "redis up 127.0.0.1:$REDIS_PORT" || echo "redis down" ;;
  *) echo "usage: $0 up|down|reset|status|browser" >&2; exit 2 ;;
esac
