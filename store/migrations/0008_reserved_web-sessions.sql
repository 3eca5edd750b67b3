-- Placeholder kept by branch cluster-index so that its 0009 applies in
-- order: number 0008 belongs to branch web-sessions. Delete this file when
-- web-sessions' 0008 is merged (two files numbered 0008 fail Open).
SELECT 1;
