package web

// EndSessionPages closes the open pages of the browser session with
// handle: in a cluster, the session was signed out or revoked on another
// node (it is gone from the shared Sessions already, so the pages cannot
// come back). A handle with no page here does nothing.
func (s *Server) EndSessionPages(handle string) { s.endPages(handle, "signed out") }
