-- summary.sql runs, alone, the table summary that `backup run` reads beside
-- pg_dump in the dump's snapshot (internal/backup/pgtools.go: tablesQuery and
-- tableSummaries; keep the two in step): every table's row count and an
-- order-independent sum of row hashes, table after table, in one
-- repeatable-read transaction. bench/backup.sh measures it to show what the
-- summary costs the server.
--
--   psql -X -v ON_ERROR_STOP=1 -d DB -f bench/backup/summary.sql
\set ON_ERROR_STOP on
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT format('SELECT count(*), coalesce(sum((''x'' || substr(md5(ROW(r.*)::text), 1, 16))::bit(64)::bigint::numeric), 0)::text FROM ONLY %I.%I r',
              n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
\gexec
COMMIT;
