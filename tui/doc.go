// Package tui is the full-screen terminal interface of one parley session:
// a Bubble Tea model that shows a room's conversation, who is there, and an
// input line, and hands what the person types to a room.Session.
//
// It depends on room's types, never on SSH: the transport gives it a
// session, the client's environment and a window size. Each model renders
// with its own styles for its own terminal. The model is owned by its
// Bubble Tea program's event loop; nothing else touches it.
package tui
