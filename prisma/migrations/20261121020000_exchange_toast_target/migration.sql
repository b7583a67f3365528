-- Keeps an exchange's embedding in its row when the row is up to about 4 KB, instead of moving it
-- to the TOAST table as soon as the row passes the Postgres default of 2 KB. Memory search reads
-- every embedding of the user, and fetching each one from TOAST doubles its cost on the embedded
-- database. With the default target, a 256-wide embedding (1 KB) beside a typical 700-character
-- reply is moved out of line in most rows. With this target it stays in the row, and a long reply
-- is compressed or moved out first (it is then the largest value). 1536-wide embeddings (6 KB) are
-- out of line either way. Applies to rows written from now on. A storage parameter only: nothing
-- in schema.prisma describes it, so the Prisma schema is unchanged.
-- (No semicolons in these comments: the migration runner splits scripts on them.)
ALTER TABLE "Exchange" SET (toast_tuple_target = 4080);
