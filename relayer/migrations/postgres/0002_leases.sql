-- Named leases several instances compete for (`Store::acquire_lease`): `cursor` is held by the
-- one instance that moves the log cursor (the watcher); another takes it over once `lease_until`
-- (unix seconds, chain time as passed by the caller) is in the past.
CREATE TABLE leases (
    name        TEXT COLLATE "C" PRIMARY KEY,
    holder      TEXT   NOT NULL,
    lease_until BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
