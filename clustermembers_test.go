package main

import (
	"parley/natsaccess"
	"parley/store"
)

// A node's SQLite store can list its memberships, which natsaccess
// publishes when the node first joins a cluster (issue 15, memberships).
var _ natsaccess.MembershipLister = (*store.SQLite)(nil)
