-- Retention: old messages are found by age, and their inbox entries by message, without
-- walking the tables (the purge runs while writers go on).
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX inbox_message ON inbox (app_id, message_id);
