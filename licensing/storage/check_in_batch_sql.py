"""The PostgreSQL statement that writes a batch of check-ins (storage/check_in_batches.py).

Kept apart from the hot-path statements built with SQLAlchemy (storage/statements.py):
it is plain SQL, PostgreSQL's alone, sent as written without its indentation.
"""

# Check-ins in bulk on PostgreSQL: nonces, activation touches, observation upserts and
# seat figures for a whole batch (storage/group_commit.py) in ONE statement. Plain SQL:
# it is PostgreSQL's alone (jsonb_to_recordset, FOR UPDATE in a CTE, FILTER) and runs
# prepared.
#
# - The batch arrives as ONE jsonb parameter, an array of objects (bytea as hex): adapting
#   one string costs the driver a fraction of sixteen typed arrays, and PostgreSQL keeps
#   one generic plan for it, where array parameters made it plan every execution anew
#   (bench/README.md, "PostgreSQL's share").
# - Every CTE sees one snapshot; a check-in whose nonce was not inserted writes nothing.
# - Locks are taken in one global order, so concurrent batches cannot deadlock: nonces
#   sorted, then the named live activations sorted by id (FOR UPDATE, which also
#   re-checks `status` against a concurrent release), then observations, which belong to
#   activations already locked.
# - Several check-ins of one activation in a batch touch it once (the latest wins) and
#   add up in one observation row per (day, IP, server name, version): ON CONFLICT may
#   not meet the same row twice in one statement.
# - An empty usage report keeps the stored counters; otherwise the latest report wins.
# - The lease chain: `issued` lists, per activation in batch order, the leases issued so
#   far in the batch; a check-in's "newest" lease is the last one issued before it, or
#   the activation's stored `lease_jti` for its first check-in in the batch. Only a
#   presented lease that differs is inserted, with the lease the check-in issues
#   (`issued_jti`: a retry's presentation is told apart by it); the touch stores the
#   last one issued (an answer without a lease issues none and moves nothing). Only ids
#   that verified in Python (crypto/leases.py) arrive as `presented`.
# - seats_used and migration_until mirror the rules services.seats.in_use and
#   services.seats.migration_ends (tests/unit/services/test_seats.py holds them equal).
CHECK_IN_BATCH_POSTGRESQL = """
WITH input AS MATERIALIZED (
    SELECT t.license_id, t.activation_id, t.fingerprint, t.key_id, t.nonce, t.expires_at,
           t.now, t.day, decode(t.observation_key, 'hex') AS observation_key, t.ip,
           decode(t.ip_hash, 'hex') AS ip_hash, t.ip_prefix, t.server_name,
           decode(t.server_name_hash, 'hex') AS server_name_hash, t.product_version,
           t.usage, t.jti, t.presented, t.ordinality AS i
    FROM ROWS FROM (
        jsonb_to_recordset(%(rows)s::jsonb) AS (
            license_id uuid, activation_id uuid, fingerprint text, key_id text, nonce text,
            expires_at timestamptz, now timestamptz, day date, observation_key text,
            ip text, ip_hash text, ip_prefix text, server_name text, server_name_hash text,
            product_version text, usage jsonb, jti text, presented text
        )
    ) WITH ORDINALITY AS t
),
used_nonce AS (
    INSERT INTO replay_nonces (key_id, nonce, expires_at)
    SELECT key_id, nonce, expires_at FROM input WHERE nonce IS NOT NULL
    ORDER BY key_id, nonce
    ON CONFLICT (key_id, nonce) DO NOTHING
    RETURNING key_id, nonce
),
accepted AS MATERIALIZED (
    SELECT input.* FROM input
    WHERE input.nonce IS NULL
       OR EXISTS (SELECT FROM used_nonce u WHERE u.key_id = input.key_id AND u.nonce = input.nonce)
),
matched AS MATERIALIZED (
    SELECT accepted.i, a.id, a.fingerprint, a.activated_at, a.lease_jti
    FROM accepted JOIN activations a
      ON a.license_id = accepted.license_id AND a.status = 'active'
     AND (accepted.activation_id IS NULL OR a.id = accepted.activation_id)
     AND (accepted.fingerprint IS NULL OR a.fingerprint = accepted.fingerprint)
    ORDER BY a.id
    FOR UPDATE OF a
),
chain AS MATERIALIZED (
    SELECT m.id, m.lease_jti, c.*,
           array_agg(c.jti) FILTER (WHERE c.jti IS NOT NULL)
               OVER (PARTITION BY m.id ORDER BY c.now, c.i) AS issued
    FROM matched m JOIN accepted c USING (i)
),
presented AS (
    INSERT INTO lease_presentations (
        license_id, activation_id, presented_jti, newest_jti, issued_jti, at, ip_prefix, ip_hash
    )
    SELECT license_id, id, presented, newest, jti, now, ip_prefix, ip_hash
    FROM (
        SELECT chain.*, coalesce(
            issued[cardinality(issued) - (jti IS NOT NULL)::int], lease_jti
        ) AS newest
        FROM chain WHERE presented IS NOT NULL
    ) AS p
    WHERE newest <> presented
),
touched AS (
    UPDATE activations
    SET last_check_in_at = latest.now,
        server_name = latest.server_name,
        product_version = latest.product_version,
        lease_jti = coalesce(latest.issued[cardinality(latest.issued)], activations.lease_jti)
    FROM (
        SELECT DISTINCT ON (id) id, now, server_name, product_version, issued FROM chain
        ORDER BY id, now DESC, i DESC
    ) AS latest
    WHERE activations.id = latest.id
),
observed AS (
    INSERT INTO usage_observations (
        activation_id, license_id, day, observation_key, ip, ip_hash, ip_prefix,
        server_name, server_name_hash, product_version, first_seen, last_seen, usage, count
    )
    SELECT matched.id, a.license_id, a.day, a.observation_key, a.ip, a.ip_hash, a.ip_prefix,
           a.server_name, a.server_name_hash, a.product_version, min(a.now), max(a.now),
           coalesce(
               (array_agg(a.usage ORDER BY a.i DESC) FILTER (WHERE a.usage <> '{}'))[1],
               '{}'
           ),
           count(*)
    FROM matched JOIN accepted a USING (i)
    GROUP BY matched.id, a.license_id, a.day, a.observation_key, a.ip, a.ip_hash,
             a.ip_prefix, a.server_name, a.server_name_hash, a.product_version
    ORDER BY matched.id, a.day, a.observation_key
    ON CONFLICT (activation_id, day, observation_key) DO UPDATE
    SET count = usage_observations.count + excluded.count,
        last_seen = excluded.last_seen,
        usage = CASE WHEN excluded.usage = '{}' THEN usage_observations.usage
                     ELSE excluded.usage END
)
SELECT accepted.i IS NOT NULL AS accepted,
       matched.id, matched.fingerprint, matched.activated_at,
       CASE WHEN matched.id IS NOT NULL THEN (
           SELECT count(*) FROM activations s
           WHERE s.license_id = input.license_id AND s.status = 'active'
       ) END AS seats_used,
       CASE WHEN matched.id IS NOT NULL THEN (
           SELECT max(s.migration_until) FROM activations s
           WHERE s.license_id = input.license_id AND s.status = 'active'
             AND s.migration_until > input.now
       ) END AS migration_until
FROM input
LEFT JOIN accepted ON accepted.i = input.i
LEFT JOIN matched ON matched.i = input.i
ORDER BY input.i
"""
