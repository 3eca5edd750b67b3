// Package moderation is what admins do to people, whatever front door they
// come through: kick, ban, unban, list the bans, mute, unmute, set the
// message of the day, and find the person an admin names (by the display
// name people see, the key's name, or its fingerprint). It also answers
// whois, which everyone may ask. The chat (/kick), the SSH exec API
// (`ssh host kick`) and any later front door call the same Service, so they
// behave and log the same; Commands declares them once for every surface.
//
// It knows no SSH, terminal or storage: it acts on the room.Hub and on the
// bans in access.Control, and reaches what lives outside through two small
// ports, Keys (the names and admin rights in authorized_keys) and MOTDFile
// (where the message of the day is kept).
//
// A Service holds no mutable state of its own: its methods may be called
// from any goroutine, and the hub and access.Control guard theirs.
package moderation
