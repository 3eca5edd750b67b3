-- Reserved for the web-passkeys branch (issue 17), which owns migration
-- 0007: its file replaces this one when both are merged. It is here only
-- so that 0008 follows an unbroken numbering on its own branch.
SELECT 1;
