package moderation

import (
	"time"
)

// Cluster is the port to the other nodes that share this node's rooms
// (natsaccess implements it over NATS JetStream). Bans and unbans travel
// through the access lists' shared Store; kicks and mutes, which the hub
// holds in memory, through this port: after acting here, the Service tells
// the others, which act the same on their own sessions.
type Cluster interface {
	// Kicked ends the sessions of identity id on the other nodes, with
	// reason as on this one.
	Kicked(id, reason string) error
	// Muted mutes identity id on every node until until (zero: until
	// unmuted), by the admin called by.
	Muted(id string, until time.Time, by string) error
	// Unmuted lifts the mute of identity id on every node.
	Unmuted(id, by string) error
}

func (s *Service) clusterKick(id, why string) error {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.Kicked(id, why)
}

func (s *Service) clusterMute(id string, until time.Time, by string) error {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.Muted(id, until, by)
}

func (s *Service) clusterUnmute(id, by string) error {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.Unmuted(id, by)
}

// shared is the note an answer ends with: ok when the other nodes were
// told (or there are none), and a warning when they could not be (the
// error is logged).
func (s *Service) shared(err error, ok string) string {
	if err == nil {
		return ok
	}
	s.log.Warn("the other nodes could not be told of an admin action", "err", err)
	return " (on this node only: the other nodes could not be told; try again)"
}
