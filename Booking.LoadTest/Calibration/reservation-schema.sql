-- Schema for reservation-tx.sql (psql -f reservation-schema.sql <scratch database>).
CREATE TABLE r(id uuid PRIMARY KEY, user_id text, status text, details jsonb, created_at timestamptz DEFAULT now());
CREATE TABLE o(id bigserial PRIMARY KEY, event_id uuid UNIQUE, topic text, key text, payload jsonb, created_at timestamptz DEFAULT now(), sent_at timestamptz);
CREATE INDEX ON o(id) WHERE sent_at IS NULL;
