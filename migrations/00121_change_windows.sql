-- Change windows and freezes (issue 16): an approved change on a cluster
-- that a window covers is sent only while one of its windows is open, and
-- nothing a freeze covers is sent during the freeze (internal/governance).

-- +goose Up
CREATE TABLE change_windows (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (name <> ''),
    -- which clusters it covers; empty: all
    environments text[] NOT NULL DEFAULT '{}',
    teams        text[] NOT NULL DEFAULT '{}',
    -- ISO weekdays (1 Monday … 7 Sunday) and the minutes of the day it is
    -- open, [start_minute, end_minute), in time_zone (an IANA name)
    weekdays     integer[] NOT NULL CHECK (cardinality(weekdays) > 0 AND weekdays <@ '{1,2,3,4,5,6,7}'),
    start_minute integer NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute   integer NOT NULL CHECK (end_minute BETWEEN 1 AND 1440 AND end_minute > start_minute),
    time_zone    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE change_freezes (
    id           bigserial PRIMARY KEY,
    reason       text NOT NULL CHECK (reason <> ''),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    environments text[] NOT NULL DEFAULT '{}',
    teams        text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE change_freezes;
DROP TABLE change_windows;
