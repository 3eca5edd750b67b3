package web

import (
	"context"
	"fmt"
	"time"
)

// Links keeps the sign-in links not used yet, by the SHA-256 of their
// token (the token is never stored), for a cluster of parley nodes: a link
// made by `ssh host web` on one node works on whichever node the browser
// reaches behind one address, once. nil (Config.Links) keeps them in the
// Server's memory. Implementations are safe for concurrent use.
type Links interface {
	// PutLink stores a new link of identity, usable until expires.
	PutLink(ctx context.Context, hash [32]byte, identity string, expires time.Time) error
	// TakeLink returns the identity and expiry of the link and deletes it,
	// so that it works once, on one node; ok is false when there is none
	// (never made, used, or taken by another node at the same time).
	TakeLink(ctx context.Context, hash [32]byte) (identity string, expires time.Time, ok bool, err error)
}

// putSharedLink stores a link of id in Config.Links.
func (s *Server) putSharedLink(token, id string, now time.Time) (string, error) {
	ctx, cancel := storeCtx(context.Background())
	defer cancel()
	if err := s.cfg.Links.PutLink(ctx, hashToken(token), id, now.Add(LinkTTL)); err != nil {
		return "", fmt.Errorf("web: storing the sign-in link: %w", err)
	}
	return s.public.String() + "/signin#" + token, nil
}

// takeLink returns the link of the token hash h and forgets it: used or
// not, it never works again.
func (s *Server) takeLink(ctx context.Context, h [32]byte) (link, bool, error) {
	if s.cfg.Links == nil {
		s.mu.Lock()
		l, ok := s.links[h]
		delete(s.links, h)
		s.mu.Unlock()
		return l, ok, nil
	}
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	id, expires, ok, err := s.cfg.Links.TakeLink(ctx, h)
	if err != nil {
		return link{}, false, fmt.Errorf("web: sign-in link: %w", err)
	}
	return link{id: id, expires: expires}, ok, nil
}
