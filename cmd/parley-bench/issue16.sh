#!/bin/sh
# issue16.sh: the runs behind issue 16's table, parley and ssh-chat v1.10.1 back to back
# under parley-bench, with receivers that do and do not have left/right margins.
#
#   cmd/parley-bench/issue16.sh            # from the repository's root; every row
#   ROWS="vt10x-100x30 grid-100x30" cmd/parley-bench/issue16.sh   # some rows
#
# Rows (name: emulator, size, sessions):
#   vt10x-100x30, vt10x-40x15, vt10x-200x50 (200 sessions): hinshun/vt10x receivers, which
#       neither have nor answer DECLRMM (the issue's independent generator used vt10x)
#   grid-100x30, grid-40x15, grid-200x50: the bench's grid, declining mode 69 (-margins decline)
#   margins-100x30, margins-40x15, margins-200x50: the grid answering mode 69 (the xterm path)
#   idle4000: 1,000 chatting + 4,000 idle in the same room, grid declining mode 69, 100x30
# Each row: 10 senders x 0.8 msg/s for 20 s. Every figure the issue's table has is in each
# run's report: bytes per delivery, latency p50/p99, load generator CPU, server CPU
# ("CPU while sending"), and which path the server took ("left/right margins").
# Full reports go to $OUT/<row>-<server>.txt; a summary is printed at the end.
#
# Needs: go, ssh-keygen, network access to the Go module proxy once (ssh-chat's source).
# Run it on a machine with nothing else running: the load generator shares the cores.
set -eu

OUT=${OUT:-/tmp/issue16}
PARLEY_PORT=${PARLEY_PORT:-2297}
SSHCHAT_PORT=${SSHCHAT_PORT:-2298}
N=${SESSIONS:-1000} # chatting sessions per row (200 in vt10x-200x50); smaller for a smoke run
ROWS=${ROWS:-"vt10x-100x30 vt10x-40x15 vt10x-200x50 grid-100x30 grid-40x15 grid-200x50 margins-100x30 margins-40x15 margins-200x50 idle4000"}

mkdir -p "$OUT/data"
go build -o "$OUT/parley" .
go build -o "$OUT/pbench" ./cmd/parley-bench
if [ ! -x "$OUT/ssh-chat" ]; then
	dir=$(cd "$OUT" && GOFLAGS=-mod=mod go mod download -json github.com/shazow/ssh-chat@v1.10.1 |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rm -rf "$OUT/sc" && cp -r "$dir" "$OUT/sc" && chmod -R u+w "$OUT/sc"
	(cd "$OUT/sc" && GOFLAGS=-mod=mod go build -o "$OUT/ssh-chat" ./cmd/ssh-chat)
fi
[ -f "$OUT/data/authorized_keys" ] || "$OUT/pbench" -keys 5100 -out "$OUT/data/authorized_keys"
[ -f "$OUT/sshchat_host" ] || ssh-keygen -q -t ed25519 -N "" -f "$OUT/sshchat_host"

"$OUT/parley" --data "$OUT/data" --listen "127.0.0.1:$PARLEY_PORT" --ops "" --no-seed-keys --msg-rate inf >"$OUT/parley.log" 2>&1 &
PARLEY=$!
"$OUT/ssh-chat" --bind "127.0.0.1:$SSHCHAT_PORT" -i "$OUT/sshchat_host" --whitelist "$OUT/data/authorized_keys" >"$OUT/ssh-chat.log" 2>&1 &
SSHCHAT=$!
trap 'kill $PARLEY $SSHCHAT 2>/dev/null' EXIT INT TERM
sleep 2

summary="$OUT/summary.txt"
: >"$summary"

# run ROW SERVER ARGS...: one parley-bench run; its report in $OUT/ROW-SERVER.txt.
run() {
	row=$1 server=$2
	shift 2
	if [ "$server" = parley ]; then
		set -- -addr "127.0.0.1:$PARLEY_PORT" -pid "$PARLEY" "$@"
	else
		set -- -addr "127.0.0.1:$SSHCHAT_PORT" -pid "$SSHCHAT" -layout line -ready joined "$@"
	fi
	"$OUT/pbench" "$@" -senders 10 -rate 0.8 -duration 20s >"$OUT/$row-$server.txt" 2>"$OUT/$row-$server.err" || true
	{
		echo "== $row, $server: $*"
		grep -E 'bytes per delivery|left/right margins|latency|load generator CPU|CPU while sending|delivered|CPUs, load' "$OUT/$row-$server.txt"
	} | tee -a "$summary"
}

for row in $ROWS; do
	case $row in
	vt10x-200x50) args="-emulator vt10x -size 200x50 -sessions $((N / 5))" ;;
	vt10x-*) args="-emulator vt10x -size ${row#vt10x-} -sessions $N" ;;
	grid-*) args="-emulator grid -margins decline -size ${row#grid-} -sessions $N" ;;
	margins-*) args="-emulator grid -margins answer -size ${row#margins-} -sessions $N" ;;
	# ssh-chat connects 5,000 sessions at ~20 a second (each join reaches everyone):
	# its run takes 5 minutes or more before the measurement starts.
	idle4000) args="-emulator grid -margins decline -size 100x30 -sessions $N -idle $((4 * N)) -timeout 30m" ;;
	*)
		echo "unknown row $row" >&2
		exit 2
		;;
	esac
	# shellcheck disable=SC2086 # args are words
	run "$row" parley $args
	# shellcheck disable=SC2086
	run "$row" ssh-chat $args
done
echo "summary in $summary"
