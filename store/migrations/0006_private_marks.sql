-- Private messages to someone offline wait for them (issue 13 item 6): at
-- connect a person is shown those past their private read mark (room '').
-- Before this version a private message could only be sent to someone
-- online, so every stored one was delivered live: mark them all as seen,
-- or the first connect after the upgrade would show old ones as waiting.
INSERT INTO read_marks (identity, room, seq)
SELECT to_id, '', MAX(id) FROM messages WHERE room = '' GROUP BY to_id
ON CONFLICT (identity, room) DO UPDATE SET seq = MAX(seq, excluded.seq);
