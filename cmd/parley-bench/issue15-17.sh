#!/bin/sh
# issue15-17.sh: the runs behind issue 17's WebSocket row and issue 15's two-node rows, all in
# one run so that their figures compare: one standalone parley (no NATS, with its web page),
# one nats-server with JetStream, and two `parley --nats` nodes on it, everything on this machine.
#
#   cmd/parley-bench/issue15-17.sh                  # from the repository's root; every row
#   ROWS="ssh1 nats2" cmd/parley-bench/issue15-17.sh  # some rows
#   SESSIONS=100 cmd/parley-bench/issue15-17.sh     # a smoke run
#
# Rows ($N = SESSIONS, 1,000 by default; 10 senders x 0.8 msg/s for 20 s unless said):
#   web       standalone: $N SSH + $N web (WebSocket) sessions in one room, 5 SSH and 5 web senders
#   ssh1      standalone: $N SSH sessions (the baseline of the same run)
#   nats1     node A alone on NATS: $N SSH sessions (the cost of JetStream on one node)
#   nats2     nodes A and B: $N SSH sessions split between them (-addrs, round robin)
#   nats2web  nodes A and B: $N SSH + $N web sessions split between them, 5 + 5 senders
#   jsrate    nodes A and B: 40 sessions, all senders at 60 msg/s for 10 s (2,400 msg/s offered;
#             JS_SENDERS and JS_RATE change it):
#             JetStream's acknowledged messages per second (-min-delivered 0: a capacity row; a
#             sender's screen sends one line at a time and drops what is typed beyond 32 waiting,
#             telling the sender, so less than 100% is delivered there by design)
# Each report has delivery, p50/p99, bytes per delivery per kind, the servers' CPU (summed, and
# per node), and JetStream's acknowledged messages per second. Full reports go to
# $OUT/<row>.txt; a summary is printed at the end.
#
# Needs: go (nats-server is built from the module cache: it is in go.mod). Run it on a machine
# with nothing else running: the load generator shares the cores.
set -eu

OUT=${OUT:-/tmp/issue15-17}
N=${SESSIONS:-1000}
ROWS=${ROWS:-"web ssh1 nats1 nats2 nats2web jsrate"}
JS_SENDERS=${JS_SENDERS:-40} JS_RATE=${JS_RATE:-60} # the jsrate row: senders (all sessions send), msg/s each
SOLO_SSH=127.0.0.1:2297 SOLO_WEB=127.0.0.1:8097
A_SSH=127.0.0.1:2301 A_WEB=127.0.0.1:8101
B_SSH=127.0.0.1:2302 B_WEB=127.0.0.1:8102
NATS_PORT=${NATS_PORT:-4297}
NATS=nats://127.0.0.1:$NATS_PORT

mkdir -p "$OUT/solo" "$OUT/a" "$OUT/b" "$OUT/js"
go build -o "$OUT/parley" .
go build -o "$OUT/pbench" ./cmd/parley-bench
go build -o "$OUT/nats-server" github.com/nats-io/nats-server/v2
for d in solo a b; do
	# the same identities on every node: SSH sessions first, then the web ones
	[ -f "$OUT/$d/authorized_keys" ] || "$OUT/pbench" -keys $((2 * N + 100)) -out "$OUT/$d/authorized_keys"
done

"$OUT/nats-server" -js -sd "$OUT/js" -a 127.0.0.1 -p "$NATS_PORT" >"$OUT/nats.log" 2>&1 &
NATSPID=$!
"$OUT/parley" --data "$OUT/solo" --listen "$SOLO_SSH" --web "$SOLO_WEB" --ops "" --no-seed-keys --msg-rate inf >"$OUT/solo.log" 2>&1 &
SOLO=$!
sleep 1 # nats-server: listening before the nodes dial it (they stop when they cannot)
"$OUT/parley" --data "$OUT/a" --listen "$A_SSH" --web "$A_WEB" --ops "" --no-seed-keys --msg-rate inf --nats "$NATS" --node a >"$OUT/a.log" 2>&1 &
A=$!
"$OUT/parley" --data "$OUT/b" --listen "$B_SSH" --web "$B_WEB" --ops "" --no-seed-keys --msg-rate inf --nats "$NATS" --node b >"$OUT/b.log" 2>&1 &
B=$!
trap 'kill $SOLO $A $B 2>/dev/null; sleep 1; kill $NATSPID 2>/dev/null' EXIT INT TERM
sleep 2

summary="$OUT/summary.txt"
: >"$summary"

# run ROW ARGS...: one parley-bench run; its report in $OUT/ROW.txt.
run() {
	row=$1
	shift
	"$OUT/pbench" "$@" >"$OUT/$row.txt" 2>"$OUT/$row.err" || true
	{
		echo "== $row: $*"
		grep -E '^(delivery|node|JetStream|process)|delivered|latency|bytes per delivery|CPU while sending|acknowledged|result' "$OUT/$row.txt"
	} | tee -a "$summary"
}

load="-rate 0.8 -duration 20s -size 100x30"
for row in $ROWS; do
	# shellcheck disable=SC2086 # $load is words
	case $row in
	web) run web -addr "$SOLO_SSH" -web "http://$SOLO_WEB" -pid "$SOLO" -sessions "$N" -web-sessions "$N" -senders 5 -web-senders 5 $load ;;
	ssh1) run ssh1 -addr "$SOLO_SSH" -pid "$SOLO" -sessions "$N" -senders 10 $load ;;
	nats1) run nats1 -addr "$A_SSH" -pid "$A" -nats "$NATS" -sessions "$N" -senders 10 $load ;;
	nats2) run nats2 -addrs "$A_SSH,$B_SSH" -pid "$A,$B" -nats "$NATS" -sessions "$N" -senders 10 $load ;;
	nats2web) run nats2web -addrs "$A_SSH,$B_SSH" -web "http://$A_WEB,http://$B_WEB" -pid "$A,$B" -nats "$NATS" \
		-sessions "$N" -web-sessions "$N" -senders 5 -web-senders 5 $load ;;
	jsrate) run jsrate -addrs "$A_SSH,$B_SSH" -pid "$A,$B" -nats "$NATS" -sessions "$JS_SENDERS" -senders "$JS_SENDERS" -rate "$JS_RATE" -duration 10s -drain 30s -min-delivered 0 ;;
	*)
		echo "unknown row $row" >&2
		exit 2
		;;
	esac
done
echo "summary in $summary"
