-- Round attempts: a round that misses its quorum may be opened again with a fresh selection of agents
-- (the job spec's roundAttempts). The round row holds its current attempt; every task, the attempt it
-- was issued for, so that the contributions of an abandoned attempt are never folded into a later one.
-- Rows written before this migration belong to attempt 1. Portable between H2 and PostgreSQL.
alter table rounds add column attempt int default 1 not null;
alter table tasks add column attempt int default 1 not null;
