#!/usr/bin/env bash
# Back up Samverkan: one pg_dump in custom format holds the agreements, their
# history, the audit chains and (with FILE_STORAGE=database, the default) every
# stored file, consistent with each other (pg_dump reads one snapshot).
#
#   DATABASE_URL=postgres://samverkan_owner@db/samverkan deploy/backup.sh /var/backups/samverkan [KEEP_DAYS]
#
# Writes DIR/samverkan-<UTC time>.dump and .dump.sha256, checks that the dump
# can be read back (pg_restore --list), and removes dumps older than KEEP_DAYS
# (default 30) from DIR. PG_DUMP_OPTIONS adds options, e.g. "--compress=1" (faster,
# slightly larger: worth it when many files are stored). With FILE_STORAGE=s3 the files are not in the dump:
# back up the bucket too (README › Operations › Backups).
set -euo pipefail
dir=${1:?usage: backup.sh DIR [KEEP_DAYS]}
keep_days=${2:-30}
: "${DATABASE_URL:?DATABASE_URL must name the database to back up}"
mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$dir/samverkan-$stamp.dump"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT
# --format=custom: compressed, restorable table by table and in parallel (pg_restore --jobs).
# shellcheck disable=SC2086  # PG_DUMP_OPTIONS is a list of options
pg_dump --format=custom --no-password ${PG_DUMP_OPTIONS:-} --file="$partial" "$DATABASE_URL"
pg_restore --list "$partial" >/dev/null
mv "$partial" "$target"
(cd "$dir" && sha256sum "$(basename "$target")" >"$(basename "$target").sha256")
find "$dir" -maxdepth 1 -name 'samverkan-*.dump*' -mtime "+$keep_days" -delete
echo "backup written: $target ($(du -h "$target" | cut -f1))"
