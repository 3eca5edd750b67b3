package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"parley/room"
)

// Limits on what Search accepts, so one query cannot keep a reader busy.
const (
	// MaxSearchBytes is the longest query Search accepts.
	MaxSearchBytes = 512
	// MaxSearchWords is the most words a query may hold.
	MaxSearchWords = 16
)

// shortScanWindow is how many of the newest messages (by id, across all
// rooms) a query made only of short words is matched against: those words
// cannot use the trigram index, so they cost a scan.
var shortScanWindow int64 = 100_000

// maxSearchCandidates bounds how many of the newest index matches a search
// looks at, whatever room or person they belong to, so that a word common in
// busy rooms cannot make a search of a quiet one read the whole index.
var maxSearchCandidates int64 = 100_000

// minTrigram is the shortest word the trigram index can find.
const minTrigram = 3

// Search returns up to limit messages, newest first, that contain every word
// of query, from roomName's history and from identity's own private
// messages. Either may be "" to leave that part out. Private messages come
// back with Seq set to their id, as in PrivateBefore.
//
// The query is plain words separated by spaces: quotes, '*', '-', ':',
// parentheses, AND/OR/NOT/NEAR mean themselves. Matching is by substring,
// ignoring case and diacritics ("cafe" finds "Café", "привет" finds
// "Привет"). A query without words returns nothing.
//
// Two limits keep one search cheap, at the price of completeness in big
// stores. The index serves words of three or more characters: among their
// matches, only the newest 100,000 in the whole store (all rooms and
// people) are considered, so a word that is common elsewhere may hide older
// matches in a quiet room. Words of one or two characters cannot use the
// index: they are matched exactly except for ASCII case, and when the query
// holds nothing longer, only among the newest 100,000 messages of the store.
func (s *SQLite) Search(ctx context.Context, roomName, identity, query string, limit int) ([]room.Message, error) {
	long, short, err := searchWords(query)
	if err != nil {
		return nil, fmt.Errorf("store: search: %w", err)
	}
	if limit <= 0 || len(long)+len(short) == 0 || (roomName == "" && identity == "") {
		return nil, nil
	}
	q, args := searchSQL(roomName, identity, long, short, limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: search %q: %w", query, err)
	}
	msgs, err := scanMessages(rows, limit)
	if err != nil {
		return nil, fmt.Errorf("store: search %q: %w", query, err)
	}
	return msgs, nil
}

// searchSQL builds the query for Search and its arguments.
func searchSQL(roomName, identity string, long, short []string, limit int) (string, []any) {
	args := []any{
		sql.Named("room", roomName),
		sql.Named("identity", identity),
		sql.Named("limit", limit),
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + messageColumns("m") + ` FROM `)
	if len(long) > 0 {
		// The index yields rowids newest first (a LIMIT it sees bounds the
		// work), and each is looked up in messages in that order (CROSS
		// JOIN keeps the planner from driving the join from messages): no
		// sort, and it stops at limit.
		q.WriteString(`(SELECT rowid FROM messages_fts WHERE messages_fts MATCH :match ORDER BY rowid DESC LIMIT :candidates) AS f
			CROSS JOIN messages m ON m.id = f.rowid WHERE 1`)
		args = append(args, sql.Named("match", ftsQuery(long)), sql.Named("candidates", maxSearchCandidates))
	} else {
		q.WriteString(`messages m WHERE m.id > (SELECT coalesce(max(id), 0) FROM messages) - :window`)
		args = append(args, sql.Named("window", shortScanWindow))
	}
	// The room's messages, or the identity's private ones: never a private
	// message between others, never a room when none was asked for.
	q.WriteString(` AND ((:room <> '' AND m.room = :room)
		OR (:identity <> '' AND m.room = '' AND (m.from_id = :identity OR m.to_id = :identity)))`)
	for i, w := range short {
		name := fmt.Sprintf("like%d", i)
		fmt.Fprintf(&q, ` AND m.text LIKE :%s ESCAPE '\'`, name)
		args = append(args, sql.Named(name, likePattern(w)))
	}
	if len(long) > 0 {
		q.WriteString(` ORDER BY f.rowid DESC LIMIT :limit`)
	} else {
		q.WriteString(` ORDER BY m.id DESC LIMIT :limit`)
	}
	return q.String(), args
}

// searchWords splits a query into words on spaces and control characters,
// separating those the trigram index can find from shorter ones.
func searchWords(query string) (long, short []string, err error) {
	if len(query) > MaxSearchBytes {
		return nil, nil, fmt.Errorf("%w: query longer than %d bytes", ErrInvalid, MaxSearchBytes)
	}
	if !utf8.ValidString(query) {
		query = strings.ToValidUTF8(query, " ")
	}
	words := strings.FieldsFunc(query, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
	if len(words) > MaxSearchWords {
		return nil, nil, fmt.Errorf("%w: query has more than %d words", ErrInvalid, MaxSearchWords)
	}
	for _, w := range words {
		if utf8.RuneCountInString(w) >= minTrigram {
			long = append(long, w)
		} else {
			short = append(short, w)
		}
	}
	return long, short, nil
}

// ftsQuery makes each word an FTS5 string (inside which only '"' is special,
// written twice), so that the words are phrases that must all match and
// nothing the user typed is read as FTS5 syntax.
func ftsQuery(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(quoted, " ")
}

// likePattern matches w anywhere, with LIKE's wildcards escaped by '\'.
func likePattern(w string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(w) + "%"
}
