// Package store keeps parley's durable state in one SQLite file: the
// messages of rooms, private messages, a full-text index over both, each
// person's settings and how far they have read, who may enter each room
// and the rooms each person is in (room.RoomStore).
//
// It implements room.History (and the extra methods the chat layer will
// need for private messages, search and preferences) and knows nothing of
// SSH, terminals or how messages are shown. Names of rooms and identities
// are stored exactly as the room package gives them (already folded and
// made inert); this package neither folds nor validates them.
//
// # Durability
//
// The room sequencer calls Append once per batch, before anyone is shown the
// batch. Append writes the whole batch in one transaction, so a batch costs
// one commit and one fsync however many messages it holds (group commit).
// The database runs in WAL mode with synchronous=FULL: when Append returns
// nil the batch is on stable storage and survives a power cut, which is the
// promise the room package makes ("nothing is shown that was not stored").
// synchronous=NORMAL would be faster but may lose the last commits on power
// loss, after people have seen them.
//
// # Connections
//
// A SQLite database has one writer at a time, so the store holds exactly one
// write connection (a *sql.DB limited to one connection, whose transactions
// begin IMMEDIATE) and a separate pool of read-only connections
// (query_only). In WAL mode readers never wait for the writer, so loading
// history and searching do not delay commits.
//
// # Schema
//
// The schema lives in numbered SQL files embedded in the binary
// (migrations/NNNN_name.sql). Open applies the missing ones in order, each
// in its own transaction together with the new PRAGMA user_version, and
// refuses a database written by a newer parley (ErrSchemaTooNew) or by
// something that is not parley (ErrNotParley). A migration, once released,
// is never edited: change the schema by adding the next file.
//
// # Search
//
// Search uses an FTS5 index with the trigram tokenizer (case-insensitive,
// diacritics removed), kept in sync with the messages table by triggers.
// Trigrams match substrings in every script, including Chinese and Japanese,
// which have no spaces between words; the default unicode61 tokenizer would
// make a whole run of CJK text one token, so "日本語" would not find
// "日本語を話します". The price is an index about three times the size
// of the text (some 250 bytes for an 80-byte line, out of about 430 bytes
// per message in all), and that a word shorter than three characters
// (common in Chinese and Japanese) cannot use the index: it is matched with
// LIKE, which folds only ASCII case. The user's query is always treated as
// plain words that must all appear: FTS5 operators typed by people have no
// effect. Search bounds its own cost; see Search for what that leaves out.
//
// # Cluster mode
//
// With --nats the database is the node's local index of the rooms'
// JetStream streams (clusterindex.go, migration 0009): an indexed room's
// messages carry the stream's sequence numbers and cluster_index records
// the last one applied, written in the same transaction as the messages.
// A room with messages but no cluster_index row holds history from before
// the cluster, which `parley cluster import` publishes and marks imported.
package store
