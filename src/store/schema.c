/*
 * schema.c - numbered schema migrations, shared by both backends.
 *
 * Each migration is one SQL script in a neutral dialect with two placeholders that the
 * backend expands: @SEQ@ (an auto-increment primary key: "INTEGER PRIMARY KEY" on SQLite,
 * "BIGSERIAL PRIMARY KEY" on PostgreSQL) and @INT@ (a 64-bit integer column). Times are
 * integer milliseconds since the epoch (UTC); money is integer minor units. Migrations
 * are append-only: a released migration is never edited, a change is a new one.
 */
#include "store/store_int.h"

const char *const store_migrations[] = {
	/* 1: the engine core */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
	"CREATE TABLE participants (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, email_enc TEXT, email_hash TEXT, name_enc TEXT,\n"
	"  country TEXT, currency TEXT, status TEXT NOT NULL DEFAULT 'active',\n"
	"  tax_form TEXT NOT NULL DEFAULT 'none', attributes TEXT NOT NULL DEFAULT '{}',\n"
	"  devices TEXT NOT NULL DEFAULT '[]', ips TEXT NOT NULL DEFAULT '[]',\n"
	"  created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL);\n"
	"CREATE INDEX participants_email ON participants(email_hash);\n"
	"CREATE TABLE programs (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, currency TEXT NOT NULL,\n"
	"  active_version @INT@, created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL);\n"
	"CREATE TABLE program_versions (\n"
	"  program TEXT NOT NULL, version @INT@ NOT NULL, doc TEXT NOT NULL, status TEXT NOT NULL,\n"
	"  author TEXT NOT NULL, approved_by TEXT, approved_at @INT@, activated_at @INT@,\n"
	"  created_at @INT@ NOT NULL, PRIMARY KEY (program, version));\n"
	"CREATE TABLE referrals (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, program TEXT NOT NULL, referrer TEXT NOT NULL,\n"
	"  referred TEXT NOT NULL, code TEXT, source TEXT, affiliate TEXT, ip TEXT, device_id TEXT,\n"
	"  occurred_at @INT@ NOT NULL, status TEXT NOT NULL, rejection_reason TEXT,\n"
	"  signals TEXT NOT NULL DEFAULT '[]', event TEXT, explanation TEXT,\n"
	"  created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL);\n"
	"CREATE INDEX referrals_referred ON referrals(referred, status, occurred_at);\n"
	"CREATE INDEX referrals_referrer ON referrals(referrer, occurred_at);\n"
	"CREATE TABLE conversions (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, participant TEXT NOT NULL, amount @INT@ NOT NULL,\n"
	"  currency TEXT NOT NULL, category TEXT, product TEXT, attributes TEXT NOT NULL DEFAULT '{}',\n"
	"  occurred_at @INT@ NOT NULL, refunded @INT@ NOT NULL DEFAULT 0, referral TEXT,\n"
	"  program TEXT, program_version @INT@, context TEXT, explanation TEXT, event TEXT,\n"
	"  created_at @INT@ NOT NULL);\n"
	"CREATE INDEX conversions_participant ON conversions(participant, occurred_at);\n"
	"CREATE TABLE rewards (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, program TEXT NOT NULL, program_version @INT@ NOT NULL,\n"
	"  referral TEXT, conversion TEXT, participant TEXT NOT NULL, role TEXT NOT NULL,\n"
	"  type TEXT NOT NULL, amount @INT@, currency TEXT, percent_bp @INT@, rate_bp @INT@,\n"
	"  max_amount @INT@, months @INT@, code TEXT, pool TEXT, sku TEXT, quantity @INT@, brand TEXT,\n"
	"  status TEXT NOT NULL, reason TEXT, hold_until @INT@, release_at @INT@, expires_at @INT@,\n"
	"  connector TEXT NOT NULL, fulfiller TEXT NOT NULL, external_reference TEXT, batch TEXT,\n"
	"  signals TEXT NOT NULL DEFAULT '[]', explanation TEXT, attempts @INT@ NOT NULL DEFAULT 0,\n"
	"  next_attempt_at @INT@, last_error TEXT, fulfilled_at @INT@,\n"
	"  created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL);\n"
	"CREATE INDEX rewards_status ON rewards(status, release_at);\n"
	"CREATE INDEX rewards_participant ON rewards(participant, created_at);\n"
	"CREATE INDEX rewards_program ON rewards(program);\n"
	"CREATE INDEX rewards_batch ON rewards(batch);\n"
	"CREATE INDEX rewards_conversion ON rewards(conversion);\n"
	"CREATE INDEX rewards_expiry ON rewards(expires_at);\n"
	"CREATE TABLE reward_history (\n"
	"  seq @SEQ@, reward TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL,\n"
	"  actor TEXT NOT NULL, reason TEXT, at @INT@ NOT NULL);\n"
	"CREATE INDEX reward_history_reward ON reward_history(reward, seq);\n"
	"CREATE TABLE events (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, result TEXT NOT NULL,\n"
	"  occurred_at @INT@ NOT NULL, received_at @INT@ NOT NULL, body TEXT NOT NULL);\n"
	"CREATE TABLE ledger_entries (\n"
	"  seq @SEQ@, journal TEXT NOT NULL, account TEXT NOT NULL, currency TEXT NOT NULL,\n"
	"  amount @INT@ NOT NULL, kind TEXT NOT NULL, reward TEXT, at @INT@ NOT NULL);\n"
	"CREATE INDEX ledger_entries_account ON ledger_entries(account, currency);\n"
	"CREATE TABLE ledger_balances (\n"
	"  account TEXT NOT NULL, currency TEXT NOT NULL, balance @INT@ NOT NULL,\n"
	"  PRIMARY KEY (account, currency));\n"
	"CREATE TABLE ledger_lots (\n"
	"  seq @SEQ@, reward TEXT NOT NULL UNIQUE, participant TEXT NOT NULL, currency TEXT NOT NULL,\n"
	"  amount @INT@ NOT NULL, remaining @INT@ NOT NULL, expires_at @INT@,\n"
	"  created_at @INT@ NOT NULL);\n"
	"CREATE INDEX ledger_lots_open ON ledger_lots(participant, currency, expires_at);\n"
	"CREATE TABLE audit (\n"
	"  seq @INT@ PRIMARY KEY, at @INT@ NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,\n"
	"  target TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);\n"
	"CREATE TABLE api_keys (\n"
	"  seq @SEQ@, prefix TEXT NOT NULL UNIQUE, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,\n"
	"  name TEXT, participant TEXT, fulfiller TEXT, created_at @INT@ NOT NULL, revoked_at @INT@);\n"
	"CREATE TABLE idempotency (\n"
	"  scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status @INT@ NOT NULL,\n"
	"  body TEXT NOT NULL, created_at @INT@ NOT NULL, PRIMARY KEY (scope, key));\n"
	"CREATE INDEX idempotency_age ON idempotency(created_at);\n",
	/* 2: fraud signals (blocklist), PII key rotation, anomaly guard */
	"CREATE TABLE blocklist (\n"
	"  kind TEXT NOT NULL, value TEXT NOT NULL, value_enc TEXT, note TEXT,\n"
	"  created_at @INT@ NOT NULL, key_id TEXT, PRIMARY KEY (kind, value));\n"
	"ALTER TABLE participants ADD COLUMN key_id TEXT;\n"
	"ALTER TABLE program_versions ADD COLUMN anomaly_at @INT@;\n"
	"CREATE INDEX rewards_version ON rewards(program, program_version, seq);\n"
	"CREATE INDEX referrals_pair ON referrals(referred, program, referrer);\n",
	/* 3: fulfillment: connectors (secrets sealed), exactly-once issuing (attempt ids),
	 * code pools, the webhook outbox (endpoints, deliveries, attempts), e-mail
	 * notifications. */
	"ALTER TABLE rewards ADD COLUMN attempt_id TEXT;\n"
	"ALTER TABLE rewards ADD COLUMN redeemed_at @INT@;\n"
	"ALTER TABLE rewards ADD COLUMN sync_at @INT@;\n"
	"ALTER TABLE rewards ADD COLUMN provider_status TEXT;\n"
	"ALTER TABLE rewards ADD COLUMN reversal TEXT;\n"
	"CREATE INDEX rewards_sync ON rewards(sync_at);\n"
	"CREATE INDEX rewards_status_seq ON rewards(status, seq);\n"
	"CREATE TABLE connectors (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, config TEXT NOT NULL,\n"
	"  secrets TEXT, failures @INT@ NOT NULL DEFAULT 0, open_until @INT@,\n"
	"  created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL);\n"
	"CREATE TABLE code_pools (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, low_stock_threshold @INT@ NOT NULL DEFAULT 0,\n"
	"  per_participant_limit @INT@, low_alerted @INT@ NOT NULL DEFAULT 0,\n"
	"  created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL);\n"
	"CREATE TABLE codes (\n"
	"  seq @SEQ@, pool TEXT NOT NULL, code TEXT NOT NULL, status TEXT NOT NULL,\n"
	"  reward TEXT, participant TEXT, assigned_at @INT@, redeemed_at @INT@,\n"
	"  created_at @INT@ NOT NULL, UNIQUE (pool, code));\n"
	"CREATE INDEX codes_available ON codes(pool, status, seq);\n"
	"CREATE INDEX codes_participant ON codes(pool, participant);\n"
	"CREATE UNIQUE INDEX codes_reward ON codes(reward);\n"
	"CREATE TABLE webhook_endpoints (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, url TEXT NOT NULL, secret TEXT NOT NULL,\n"
	"  events TEXT NOT NULL, description TEXT, status TEXT NOT NULL, disabled_reason TEXT,\n"
	"  created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL);\n"
	"CREATE TABLE webhook_deliveries (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, endpoint TEXT NOT NULL, message_id TEXT NOT NULL,\n"
	"  type TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,\n"
	"  attempts @INT@ NOT NULL DEFAULT 0, next_attempt_at @INT@, last_status @INT@, last_error TEXT,\n"
	"  created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL, UNIQUE (endpoint, message_id));\n"
	"CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);\n"
	"CREATE TABLE webhook_attempts (\n"
	"  seq @SEQ@, delivery TEXT NOT NULL, endpoint TEXT NOT NULL, message_id TEXT NOT NULL,\n"
	"  type TEXT NOT NULL, attempt @INT@ NOT NULL, status_code @INT@, error TEXT,\n"
	"  duration_ms @INT@ NOT NULL, at @INT@ NOT NULL);\n"
	"CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint, seq);\n"
	"CREATE TABLE notifications (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, reward TEXT NOT NULL, participant TEXT NOT NULL,\n"
	"  milestone TEXT NOT NULL, message TEXT NOT NULL, status TEXT NOT NULL,\n"
	"  attempts @INT@ NOT NULL DEFAULT 0, next_attempt_at @INT@, data_started @INT@ NOT NULL DEFAULT 0,\n"
	"  last_error TEXT, created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL,\n"
	"  UNIQUE (reward, milestone));\n"
	"CREATE INDEX notifications_due ON notifications(status, next_attempt_at);\n",
	/* 4: finance: payout batches, reconciliation runs (statistics for the payout-accuracy
	 * KPI), tax thresholds and reportable types, fx rates (decimal strings plus a scaled
	 * integer, never floats), per-connector fees. */
	"CREATE TABLE batches (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, fulfiller TEXT NOT NULL, connector TEXT NOT NULL,\n"
	"  currency TEXT, until_at @INT@, status TEXT NOT NULL, reward_count @INT@ NOT NULL DEFAULT 0,\n"
	"  totals TEXT NOT NULL DEFAULT '[]', reference TEXT, last_reconciliation TEXT,\n"
	"  created_by TEXT NOT NULL, created_at @INT@ NOT NULL, updated_at @INT@ NOT NULL,\n"
	"  closed_at @INT@, fulfilled_at @INT@, reconciled_at @INT@);\n"
	"CREATE INDEX batches_fulfiller ON batches(fulfiller, seq);\n"
	"CREATE TABLE reconciliations (\n"
	"  seq @SEQ@, id TEXT NOT NULL UNIQUE, batch TEXT, connector TEXT, status TEXT NOT NULL,\n"
	"  lines @INT@ NOT NULL, matched @INT@ NOT NULL, amount_mismatch @INT@ NOT NULL,\n"
	"  missing @INT@ NOT NULL, unexpected @INT@ NOT NULL, duplicate @INT@ NOT NULL,\n"
	"  invalid @INT@ NOT NULL, discrepancies TEXT NOT NULL, actor TEXT NOT NULL,\n"
	"  created_at @INT@ NOT NULL);\n"
	"CREATE INDEX reconciliations_batch ON reconciliations(batch, seq);\n"
	"CREATE INDEX reconciliations_at ON reconciliations(created_at);\n"
	"CREATE TABLE tax_thresholds (\n"
	"  country TEXT PRIMARY KEY, amount @INT@ NOT NULL, currency TEXT NOT NULL,\n"
	"  updated_at @INT@ NOT NULL);\n"
	"INSERT INTO tax_thresholds (country, amount, currency, updated_at) VALUES ('US', 60000, 'USD', 0);\n"
	"CREATE TABLE tax_reportable_types (type TEXT PRIMARY KEY);\n"
	"INSERT INTO tax_reportable_types (type) VALUES ('cash');\n"
	"INSERT INTO tax_reportable_types (type) VALUES ('gift_card');\n"
	"CREATE TABLE fx_rates (\n"
	"  currency TEXT NOT NULL, reporting TEXT NOT NULL, rate TEXT NOT NULL,\n"
	"  rate_units @INT@ NOT NULL, rate_scale @INT@ NOT NULL, updated_at @INT@ NOT NULL,\n"
	"  PRIMARY KEY (currency, reporting));\n"
	"CREATE TABLE connector_fees (\n"
	"  connector TEXT NOT NULL, currency TEXT NOT NULL, fixed_amount @INT@ NOT NULL,\n"
	"  percent_bp @INT@ NOT NULL, updated_at @INT@ NOT NULL, PRIMARY KEY (connector, currency));\n",
	/* 5: covering indexes for the per-event stats and limits queries */
	"CREATE INDEX referrals_referrer_program ON referrals(referrer, program, status);\n"
	"CREATE INDEX rewards_referrer_stats ON rewards(participant, program, role, created_at, status, amount);\n",
	/* 6: rewards indexes that a move between paid statuses (fulfilled -> reconciled) does
	 * not touch, so reconciling a big batch rewrites the rows and nothing else (an index
	 * with `status` in it costs a delete and an insert per reward, in random order for
	 * the per-referrer one). The work queues get one partial index (status, seq) over
	 * the statuses someone still acts on, pending rewards one by release time; the
	 * referrer stats read (count, amount) from an index without status and subtract the
	 * cancelled and reversed ones, which sit in a small partial index of their own. A
	 * query uses a partial index only when one of its terms implies the index's WHERE
	 * (SQLite proves `status = 'x'` implies an OR of equalities, not an IN list), so
	 * the queries say `status = 'x'`, or the OR of each, and never `status IN (...)`
	 * for these statuses. Counting rewards by status (/metrics) now scans the table. */
	"DROP INDEX rewards_status;\n"
	"DROP INDEX rewards_status_seq;\n"
	"DROP INDEX rewards_referrer_stats;\n"
	"CREATE INDEX rewards_queue ON rewards(status, seq) WHERE status = 'pending' OR status = 'review' OR\n"
	"  status = 'approved' OR status = 'issuing' OR status = 'reversed' OR status = 'failed';\n"
	"CREATE INDEX rewards_pending ON rewards(release_at, seq) WHERE status = 'pending';\n"
	"CREATE INDEX rewards_referrer ON rewards(participant, program, role, created_at, amount);\n"
	"CREATE INDEX rewards_referrer_void ON rewards(participant, program, role, created_at, amount, status)\n"
	"  WHERE status = 'cancelled' OR status = 'reversed';\n",
	/* 7: a batch reconciliation writes one history row for the batch instead of one per
	 * reward: its `reward` column holds the batch id, and it stands for each reward of
	 * that batch that was `fulfilled` just before it, by the reward's own history (a
	 * reward reversed or reconciled otherwise before it is not moved, and its own last
	 * row says so). Q_REWARD_WITH_HISTORY merges both kinds of row by seq. No schema
	 * change is needed for that. A batch's rewards are read for reconciliation from
	 * one index that holds every column matching needs (`rewards_batch`), less the few
	 * that are neither fulfilled nor reconciled (`rewards_batch_other`, usually empty
	 * for a paid batch); neither changes when a reward goes from fulfilled to
	 * reconciled. Both are partial, as are the other indexes a reward rarely has a key
	 * for, so ingest pays nothing for them; `rewards_program`, a prefix of
	 * `rewards_version`, goes, and so does `rewards_participant` (participant,
	 * created_at): every query by participant filters or aggregates and orders by seq,
	 * which `rewards_referrer` (participant, program, role, ...) serves as well. Fewer
	 * index entries per reward ingested, two of them at random places. So does
	 * `referrals_referred` (referred, status, occurred_at): `referrals_pair` (referred,
	 * program, referrer) finds a person's few referrals as well, and a conversion's
	 * referral becoming successful no longer moves an index entry. */
	"DROP INDEX rewards_program;\n"
	"DROP INDEX rewards_participant;\n"
	"DROP INDEX rewards_batch;\n"
	"CREATE INDEX rewards_batch ON rewards(batch, seq, id, amount, currency, external_reference)\n"
	"  WHERE batch IS NOT NULL;\n"
	"CREATE INDEX rewards_batch_other ON rewards(batch, seq)\n"
	"  WHERE batch IS NOT NULL AND status <> 'fulfilled' AND status <> 'reconciled';\n"
	"DROP INDEX rewards_expiry;\n"
	"CREATE INDEX rewards_expiry ON rewards(expires_at) WHERE expires_at IS NOT NULL;\n"
	"DROP INDEX referrals_referred;\n"
	"DROP INDEX rewards_sync;\n"
	"CREATE INDEX rewards_sync ON rewards(sync_at) WHERE sync_at IS NOT NULL;\n",
	/* 8: a conversion remembers why it was last refunded ("refund" or "chargeback"), so
	 * a refund applied later - to rewards that were in a closed batch or whose delivery
	 * outcome was unknown when it arrived - records the same reason as one applied at
	 * once. NULL (rows refunded before this) reads as "refund". */
	"ALTER TABLE conversions ADD COLUMN refund_reason TEXT;\n",
	/* 9: GET /v1/rewards?reason= finds the approved rewards that need a person (delivery
	 * outcome unknown, held by a connector or a code pool, waiting for a retry) without
	 * reading every reward: a partial index over those few reasons, which a reward only
	 * enters and leaves when its delivery goes wrong, so ingest and the usual
	 * approved -> issuing -> fulfilled path pay nothing for it (Q_REWARD_LIST_HELD). */
	"CREATE INDEX rewards_held ON rewards(reason, seq) WHERE reason = 'outcome_unknown' OR\n"
	"  reason = 'connector_unavailable' OR reason = 'pool_empty' OR reason = 'retry_scheduled';\n",
	/* 10: a reward remembers when it was earned (`earned_at`: its conversion's or
	 * referral's occurred_at, never later than its ingest), and the limits per period
	 * count rewards by the period they were earned in, not the one they were ingested
	 * in: an event delivered late (or a backfill) no longer lands in the next period's
	 * window (going past the cap of its own) nor uses up the current one. Rows from
	 * before read their created_at. The referrer indexes follow: earned_at takes
	 * created_at's place, and they carry the currency (amount limits add up the
	 * program's currency only). */
	"ALTER TABLE rewards ADD COLUMN earned_at @INT@;\n"
	"UPDATE rewards SET earned_at = created_at;\n"
	"DROP INDEX rewards_referrer;\n"
	"DROP INDEX rewards_referrer_void;\n"
	"CREATE INDEX rewards_referrer ON rewards(participant, program, role, earned_at, currency, amount);\n"
	"CREATE INDEX rewards_referrer_void ON rewards(participant, program, role, earned_at, currency, amount, status)\n"
	"  WHERE status = 'cancelled' OR status = 'reversed';\n",
	/* 11: a reversal at the provider counts its calls: retries back off and end
	 * (`failed`) after the connector's max_attempts instead of going on for ever */
	"ALTER TABLE rewards ADD COLUMN reversal_attempts @INT@ NOT NULL DEFAULT 0;\n",
	/* 12: fraud. The velocity signal counts one program's referrals (a limit set on one
	 * program no longer trips on another's traffic): referrals_referrer gains the
	 * program between the referrer and the time, so the count is one index range; the
	 * queries by referrer alone use its prefix as before, and ingest writes no more
	 * index entries than it did. Domain blocklist entries match subdomains and are
	 * stored without leading or trailing dots (".example.com" is "example.com"), with a
	 * dot inside. Entries saved with such dots before matched nothing (an e-mail's
	 * domain neither starts nor ends with a dot) and could not be removed by their
	 * normalized value: the ones with no dot inside go, the others are rewritten, a
	 * duplicate of another entry dropped first (the plain one kept, else the lowest). */
	"DROP INDEX referrals_referrer;\n"
	"CREATE INDEX referrals_referrer ON referrals(referrer, program, occurred_at);\n"
	"DELETE FROM blocklist WHERE kind = 'domain' AND trim(value, '.') NOT LIKE '%.%';\n"
	"DELETE FROM blocklist WHERE kind = 'domain' AND value <> trim(value, '.') AND EXISTS (SELECT 1 FROM\n"
	"  blocklist b WHERE b.kind = 'domain' AND trim(b.value, '.') = trim(blocklist.value, '.') AND\n"
	"  (b.value = trim(b.value, '.') OR b.value < blocklist.value));\n"
	"UPDATE blocklist SET value = trim(value, '.') WHERE kind = 'domain' AND value <> trim(value, '.');\n",
	NULL,
};
