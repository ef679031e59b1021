#!/bin/sh
# Writes the scaled profile's secrets into docker/secrets/ (once; existing files are kept):
# a random secret_key, a random PostgreSQL password, and the database_url that uses it.
set -eu
cd "$(dirname "$0")/.."
umask 022
mkdir -p secrets && chmod 0700 secrets  # the files are bind-mounted as they are: readable by the image's user
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(48))'; }
[ -s secrets/secret_key ] || random > secrets/secret_key
[ -s secrets/postgres_password ] || random > secrets/postgres_password
[ -s secrets/database_url ] || \
  printf 'postgres://medianest:%s@postgres:5432/medianest\n' "$(cat secrets/postgres_password)" \
    > secrets/database_url
echo "secrets are in $(pwd)/secrets"
