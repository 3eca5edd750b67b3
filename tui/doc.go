// Package tui is the full-screen terminal interface of one parley session:
// a Bubble Tea model that shows a room's conversation, who is there, and an
// input line, and hands what the person types to a room.Session.
//
// It depends on room's types, never on SSH: the transport gives it a
// session, the client's environment and a window size. Each model renders
// in its own theme for its own terminal. The model is owned by its
// runtime's event loop (screen.Program in the server; any tea.Model runtime
// works, with Options.Fed off); nothing else touches it, except the
// rendering caches shared between screens (styles per theme, rendered room
// messages, member lists), which are built once and never modified.
package tui
