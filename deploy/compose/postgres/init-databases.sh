#!/bin/sh
# Run once by the postgres image's entrypoint, on an empty data directory
# (/docker-entrypoint-initdb.d): the role the nodes log in as, and one database per node, owned by
# it (the node runs its migrations on open, triggers on the audit log included, so it needs to
# own its tables; no superuser rights). To run it again, remove the pgdata volume
# (docker compose down -v).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v password="$MATCHGATE_DB_PASSWORD" <<'SQL'
CREATE ROLE matchgate LOGIN PASSWORD :'password';
CREATE DATABASE gemeente OWNER matchgate;
CREATE DATABASE uwv OWNER matchgate;
CREATE DATABASE "sw-bedrijf" OWNER matchgate;
SQL
