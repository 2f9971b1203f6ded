#!/usr/bin/env bash
# Restore a Samverkan backup into a fresh, empty database and verify it.
#
#   deploy/restore.sh /var/backups/samverkan/samverkan-20261128T020000Z.dump postgres://samverkan_owner@db/samverkan_restored
#
# The target database must exist and be empty (createdb -O samverkan_owner
# samverkan_restored); the roles the dump names (owner, application role) must
# exist in the cluster, or pass PG_RESTORE_OPTIONS="--no-owner --no-privileges"
# and grant again (README › The audit trail). Restores with JOBS parallel jobs
# (default 2), then runs verify_audit (every hash chain intact) and
# verify_files (every stored file matches its hash) against the restored
# database; exits non-zero when either fails. Set VERIFY=0 to skip them.
set -euo pipefail
dump=${1:?usage: restore.sh DUMP TARGET_DATABASE_URL}
target=${2:?usage: restore.sh DUMP TARGET_DATABASE_URL}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
if [ -f "$dump.sha256" ]; then
  (cd "$(dirname "$dump")" && sha256sum --check --quiet "$(basename "$dump").sha256")
fi
tables=$(psql --no-password --tuples-only --no-align --dbname="$target" \
  --command="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "The target database is not empty ($tables tables): restore into a fresh one." >&2
  exit 1
fi
# shellcheck disable=SC2086  # PG_RESTORE_OPTIONS is a list of options
pg_restore --exit-on-error --no-password --jobs="${JOBS:-2}" ${PG_RESTORE_OPTIONS:-} --dbname="$target" "$dump"
echo "restored $dump into the target database"
if [ "${VERIFY:-1}" != "0" ]; then
  export DATABASE_URL=$target
  export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.production}
  (cd "$here" && "$python" manage.py verify_audit && "$python" manage.py verify_files)
fi
