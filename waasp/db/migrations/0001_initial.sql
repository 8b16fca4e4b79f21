-- 0001: contacts, the audit trail, and the table the hourly rollups are written to.

CREATE TABLE contacts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender_id   text        NOT NULL CHECK (char_length(sender_id) BETWEEN 1 AND 255),
    -- NULL: the contact holds on every channel (the global row).
    channel     text        CHECK (char_length(channel) BETWEEN 1 AND 50),
    trust_level text        NOT NULL
                CHECK (trust_level IN ('sovereign', 'trusted', 'limited', 'blocked')),
    name        text        CHECK (char_length(name) <= 255),
    notes       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (sender_id, channel). A plain UNIQUE would let NULL channels repeat, so the
-- global row gets its own partial index (portable to PostgreSQL < 15, which lacks
-- NULLS NOT DISTINCT). The first index also serves the check's lookup.
CREATE UNIQUE INDEX contacts_sender_channel_key ON contacts (sender_id, channel);
CREATE UNIQUE INDEX contacts_sender_global_key ON contacts (sender_id) WHERE channel IS NULL;
CREATE INDEX contacts_trust_level_idx ON contacts (trust_level);

CREATE TABLE audit_logs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action          text        NOT NULL,
    sender_id       text        NOT NULL,
    channel         text,
    contact_id      bigint      REFERENCES contacts (id) ON DELETE SET NULL,
    message_preview varchar(500),
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_logs_sender_created_idx ON audit_logs (sender_id, created_at DESC);
CREATE INDEX audit_logs_action_created_idx ON audit_logs (action, created_at DESC);
-- Retention cleanup and the unfiltered listing walk by time alone.
CREATE INDEX audit_logs_created_idx ON audit_logs (created_at);
-- Lets ON DELETE SET NULL find a removed contact's entries without a scan.
CREATE INDEX audit_logs_contact_idx ON audit_logs (contact_id) WHERE contact_id IS NOT NULL;

-- Hourly rollups, written by the aggregate_audit_stats task. channel NULL: all channels.
CREATE TABLE audit_stats_hourly (
    hour    timestamptz NOT NULL,
    action  text        NOT NULL,
    channel text,
    count   bigint      NOT NULL DEFAULT 0 CHECK (count >= 0)
);

-- Channels are never empty strings (validation maps '' to NULL), so COALESCE is exact here
-- and gives upserts one conflict target: ON CONFLICT (hour, action, (COALESCE(channel, ''))).
CREATE UNIQUE INDEX audit_stats_hourly_key
    ON audit_stats_hourly (hour, action, (COALESCE(channel, '')));
