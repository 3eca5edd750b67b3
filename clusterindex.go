package main

import (
	"context"
	"fmt"
	"strings"

	"parley/natslog"
	"parley/room"
	"parley/store"
)

// localIndex returns app.Config.LocalIndex for a node sharing rooms
// through l: the node's SQLite becomes its local index of every room's
// stream (scrollback, /jump, /search), fed and caught up by a
// natslog.Index. A database that still holds messages that are not in the
// streams (a single node's history from before the cluster, or messages
// stored while the node ran without --nats) is refused: they would
// otherwise sit under numbers the streams use for other messages.
// `parley cluster import` moves them into the cluster (clusterimport.go).
func localIndex(l *natslog.Log) func(st *store.SQLite) (room.History, func(), error) {
	return func(st *store.SQLite) (room.History, func(), error) {
		ctx, cancel := context.WithTimeout(context.Background(), natsConnectTimeout)
		defer cancel()
		local, err := st.LocalHistory(ctx)
		if err != nil {
			return nil, nil, err
		}
		var waiting []string
		for _, r := range local {
			switch {
			case r.Imported:
			case r.After > 0:
				waiting = append(waiting, fmt.Sprintf("#%s (%d messages said while this node ran without --nats)", r.Name, r.Messages))
			default:
				waiting = append(waiting, fmt.Sprintf("#%s (%d messages)", r.Name, r.Messages))
			}
		}
		if len(waiting) > 0 {
			return nil, nil, fmt.Errorf("%s holds messages that are not in the cluster: %s; "+
				"move it into the cluster first with `parley cluster import --data DIR --nats URL` (README: Moving a single node's history into the cluster), "+
				"or start with another --data", st.Path(), strings.Join(waiting, ", "))
		}
		x := l.NewIndex(st, natslog.IndexOptions{})
		if err := x.Start(ctx); err != nil {
			return nil, nil, err
		}
		return x.History(st), x.Close, nil
	}
}
