-- Retention: old messages are found by age without walking the table (the purge runs while
-- writers go on). Their inbox entries are swept in key order instead of through an index of
-- their own, which would cost every recipient of every message a second index entry.
CREATE INDEX messages_created ON messages (created_at);
