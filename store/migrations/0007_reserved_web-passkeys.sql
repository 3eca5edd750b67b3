-- Placeholder kept by branch cluster-index so that its 0009 applies in
-- order: number 0007 belongs to branch web-passkeys. Delete this file when
-- web-passkeys' 0007 is merged (two files numbered 0007 fail Open).
SELECT 1;
