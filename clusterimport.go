package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/natslog"
	"parley/room"
	"parley/store"
)

// clusterUsage is `parley cluster`'s usage.
const clusterUsage = `Usage: parley cluster import --nats URL [--data DIR] [--room NAME]... [--force] [--nats-replicas N]

Moves a single node's room history (DIR/parley.db) into the cluster: each
room's messages are published into its JetStream stream, oldest first, with
their times and senders (also the messages a cluster node stored while it
ran without --nats). Running it again publishes nothing twice. A room
whose stream already holds other messages is refused unless --force (then
the history goes after them). Private messages stay in parley.db.
Import before starting the node with --nats: it replaces the imported
history in parley.db with the streams' copy, its index.

Flags:`

// clusterCommand is `parley cluster import`: exit 0 when every room asked
// for is in the cluster, 1 when one was refused or failed, 2 on bad usage.
func clusterCommand(args []string, lookup lookupFunc, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintln(stderr, clusterUsage)
		return exitCode(2)
	}
	args = args[1:]
	lookup, err := withConfigFile(args, lookup)
	if err != nil {
		return err
	}
	getenv := func(name string) string { v, _ := lookup(name); return v }
	fs := flag.NewFlagSet("parley cluster import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, clusterUsage); fs.PrintDefaults() }
	data := fs.String("data", dataDirOf(args, lookup), "data directory whose parley.db holds the history (env PARLEY_DATA_DIR)")
	var no natsOptions
	if err := natsFlags(fs, getenv, &no); err != nil {
		return err
	}
	force := fs.Bool("force", false, "publish a room's history even when its stream already holds other messages (after them)")
	var only []string
	fs.Func("room", "import only this room (repeat for several); default every room with history", func(v string) error {
		only = append(only, room.RoomKey(strings.TrimPrefix(v, "#")))
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitCode(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley cluster import: unexpected %q\n", fs.Arg(0))
		fs.Usage()
		return exitCode(2)
	}
	if no.urls == "" {
		fmt.Fprintln(stderr, "parley cluster import: --nats URL (or PARLEY_NATS_URL) is needed: the cluster to import into")
		return exitCode(2)
	}
	if no.replicas < 1 || no.replicas > 5 {
		return fmt.Errorf("--nats-replicas %d: use 1 to 5 (3 on a three-server cluster)", no.replicas)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	path := filepath.Join(*data, "parley.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no history to import: %w (use --data)", err)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("history store: %w", err)
	}
	defer st.Close()
	local, err := st.LocalHistory(ctx)
	if err != nil {
		return err
	}
	if len(only) > 0 {
		var picked []store.LocalRoom
		for _, name := range only {
			i := -1
			for j := range local {
				if local[j].Name == name {
					i = j
				}
			}
			if i < 0 {
				return fmt.Errorf("#%s: %s holds no messages of it that are not in the cluster", name, path)
			}
			picked = append(picked, local[i])
		}
		local = picked
	}
	if len(local) == 0 {
		fmt.Fprintf(stdout, "Nothing to import: %s holds no room messages that are not in the cluster.\n", path)
		return nil
	}

	nc, err := nats.Connect(no.urls, nats.Name("parley cluster import"), nats.Timeout(natsConnectTimeout))
	if err != nil {
		return fmt.Errorf("nats %s: %w", redactURLs(no.urls), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = js.AccountInfo(ctx)
	}
	if err != nil {
		return fmt.Errorf("nats %s: JetStream: %w", redactURLs(no.urls), err)
	}
	l, err := natslog.New(nc, natslog.Options{Replicas: no.replicas})
	if err != nil {
		return err
	}
	node, err := st.ImportNode(ctx)
	if err != nil {
		return err
	}
	failed := false
	for _, r := range local {
		read := func(ctx context.Context, after uint64, n int) ([]room.Message, error) {
			return st.After(ctx, r.Name, max(after, r.After), n) // after what the room's index had applied
		}
		res, err := l.Import(ctx, r.Name, node, r.After, read, *force)
		switch {
		case errors.Is(err, natslog.ErrOtherMessages):
			failed = true
			fmt.Fprintf(stdout, "#%s: refused: its stream %s already holds %d messages said in the cluster; --force publishes this history after them\n",
				r.Name, natslog.StreamName(r.Name), res.Others)
			continue
		case err != nil:
			failed = true
			fmt.Fprintf(stdout, "#%s: failed after %d messages published: %v (run the import again: nothing is published twice)\n", r.Name, res.Published, err)
			continue
		}
		if err := st.MarkImported(ctx, r.Name); err != nil {
			failed = true
			fmt.Fprintf(stdout, "#%s: published, but %v (run the import again)\n", r.Name, err)
			continue
		}
		fmt.Fprintf(stdout, "#%s: %d messages published into %s, %d were there already; the stream ends at %d\n",
			r.Name, res.Published, natslog.StreamName(r.Name), res.Present, res.Last)
	}
	if failed {
		return exitCode(1)
	}
	fmt.Fprintln(stdout, "Done. Start this node with --nats: it replaces the imported history in parley.db with the streams' copy.")
	return nil
}
