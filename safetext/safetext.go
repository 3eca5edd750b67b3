package safetext

// Limits for chat messages.
const (
	// MaxMessageRunes is the largest message, in characters, that is delivered.
	MaxMessageRunes = 2000
	// MaxMessageLines is the largest number of lines one message may span.
	MaxMessageLines = 20
	// MaxNameRunes is the longest name a person or a room may have.
	MaxNameRunes = 24
)

// Message cleans a chat message: see package doc. STUB: to be implemented.
func Message(s string) (clean string, cut bool) { return s, false }

// Line cleans a single-line field (name, topic, TERM, username) and caps it at max runes.
func Line(s string, max int) string { return s }

// ValidateName reports why s cannot be a name, or nil.
func ValidateName(s string) error { return nil }

// Fold returns the comparison key for a name: names that fold equal are the same name.
func Fold(s string) string { return s }
