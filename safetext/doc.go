// Package safetext makes untrusted text inert before it reaches a terminal or a
// log, and validates the short identifiers people choose (names, room names).
//
// It knows nothing of rooms, sessions or SSH; it is a leaf package imported by
// both keys and room.
package safetext
