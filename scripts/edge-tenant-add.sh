#!/usr/bin/env bash
# Declares the database of a new tenant for both edge deployments:
#   * wrangler.toml: a [[d1_databases]] binding T_<DB_KEY> (the Workers adapter finds a tenant's
#     D1 database by this name; POST /api/tenants fails with "add the D1 binding first" without it)
#   * spin.toml + functions/spin/runtime-config.toml: the SQLite label t_<db_key> on every
#     component that opens tenant databases, and where Spin keeps it.
#
#   scripts/edge-tenant-add.sh <realm> [d1-database-id]
#
# db_key = realm with '.' -> '_'. Without a database id a deterministic placeholder id is written,
# which is all `wrangler dev --local` needs; for a deployment create the database first
# (`npx wrangler d1 create konnekted-t-<db_key>`) and pass its id. Idempotent. Redeploy (or restart
# `wrangler dev`) afterwards. `konnekted tenant add --workers` calls this script.
set -euo pipefail

realm="${1:-}"
if ! [[ "$realm" =~ ^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$ ]] || [[ "$realm" == *..* ]]; then
    echo "usage: $0 <realm> [d1-database-id]   (realm: lower case a-z 0-9 . -, 2-63 chars)" >&2
    exit 2
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
db_key="${realm//./_}"
upper="$(printf '%s' "$db_key" | tr 'a-z.-' 'A-Z__')"
binding="T_${upper}"
label="t_$(printf '%s' "$db_key" | tr '.-' '__')"
id="${2:-}"
if [ -z "$id" ]; then
    h="$(printf 'konnekted-d1:%s' "$binding" | sha256sum | cut -c1-32)"
    id="${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}"
fi

wrangler="$repo/wrangler.toml"
if grep -q "^binding = \"$binding\"$" "$wrangler"; then
    echo "wrangler.toml: $binding already bound"
else
    printf '\n[[d1_databases]]\nbinding = "%s"\ndatabase_name = "konnekted-t-%s"\ndatabase_id = "%s"\n' \
        "$binding" "$db_key" "$id" >>"$wrangler"
    echo "wrangler.toml: added D1 binding $binding (database konnekted-t-$db_key, id $id)"
fi

spin="$repo/spin.toml"
if [ -f "$spin" ]; then
    if grep -q "\"$label\"" "$spin"; then
        echo "spin.toml: $label already listed"
    else
        # Every component that may open the control database also opens tenant databases.
        sed -i -E "/^sqlite_databases = \[.*\"control\"/ s/\]\$/, \"$label\"]/" "$spin"
        echo "spin.toml: added SQLite label $label"
    fi
fi
rc="$repo/functions/spin/runtime-config.toml"
if [ -f "$rc" ] && ! grep -q "^\[sqlite_database\.$label\]$" "$rc"; then
    printf '\n[sqlite_database.%s]\ntype = "spin"\npath = ".spin/sqlite/%s.db"\n' "$label" "$label" >>"$rc"
    echo "runtime-config.toml: added $label"
fi
