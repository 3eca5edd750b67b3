package store

import (
	"testing"

	"parley/access"
	"parley/access/accesstest"
)

func TestAccessStore(t *testing.T) {
	accesstest.Run(t,
		func(t *testing.T) access.Store { return openTest(t) },
		func(t *testing.T, st access.Store) access.Store {
			// A restart: a second store over the same file sees everything.
			return openAt(t, st.(*SQLite).Path())
		})
}
