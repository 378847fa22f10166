/*
 * queries.c - the SQL of every query, in one dialect both backends accept: standard
 * SQL with ? placeholders (?N where a parameter is used twice; pg_stmt.c renumbers them to $N),
 * CAST(? AS TEXT) IS NULL for optional filters, ON CONFLICT upserts. @LOCK@ marks where
 * PostgreSQL claims rows (FOR UPDATE SKIP LOCKED, so workers never take the same
 * reward); SQLite drops it (BEGIN IMMEDIATE already serializes writers). No SQL lives
 * outside src/store/.
 */
#include "store/store_int.h"

/* REWARD_COLS: id, program, program_version, referral, conversion, participant, role, type, amount, currency, percent_bp, rate_bp, max_amount, months, code, pool, sku, quantity, brand, status, reason, hold_until, release_at, expires_at, connector, fulfiller, external_reference, batch, signals, attempts, next_attempt_at, last_error, fulfilled_at, created_at, updated_at */
/* PARTICIPANT_COLS: email_enc, email_hash, name_enc, country, currency, status, tax_form, attributes, devices, ips, created_at, updated_at, id */
/* REFERRAL_COLS: id, program, referrer, referred, code, source, affiliate, ip, device_id, occurred_at, status, rejection_reason, signals, created_at, updated_at, explanation */

/* REFERRAL_EVALUATED(FROM): REFERRAL_COLS of the referrals FROM names (a table, or a
 * page of one: the joins then run for that page's rows only), then what a referral's
 * latest evaluation is made of (participant.c): the explanation and time of the latest
 * conversion attributed to it (conversions.referral), of the referred person's latest
 * conversion (which may have evaluated it beside another program's referral: a
 * conversion names one), and the program's currency. MAX(seq) of a person's few
 * conversions comes from the conversions_participant index; ingest pays nothing. */
#define REFERRAL_EVALUATED(from)                                                                                        \
	"SELECT r.id, r.program, r.referrer, r.referred, r.code, r.source, r.affiliate, r.ip, r.device_id, "          \
	"r.occurred_at, r.status, r.rejection_reason, r.signals, r.created_at, r.updated_at, r.explanation, "         \
	"lc.explanation, lc.created_at, la.explanation, la.created_at, pr.currency FROM " from " r "                  \
	"LEFT JOIN conversions lc ON lc.seq = (SELECT MAX(c.seq) FROM conversions c WHERE c.participant = "           \
	"r.referred AND c.referral = r.id) LEFT JOIN conversions la ON la.seq = (SELECT MAX(c.seq) FROM "             \
	"conversions c WHERE c.participant = r.referred) LEFT JOIN programs pr ON pr.id = r.program"

/* MAILBOX_OF(ID): a person, as the ids of the participant ID and of every other
 * participant with the same normalized e-mail (keyed hash); ID itself even without an
 * e-mail. For `x IN (MAILBOX_OF(...))`: a few rows, each an indexed probe of x (an
 * `x = ID OR x IN (...)` is a scan of x's table on PostgreSQL, which cannot use an index
 * for the IN of an OR). ID twice in the list counts once. */
#define MAILBOX_OF(id)                                                                                  \
	"SELECT CAST(" id " AS TEXT) UNION ALL SELECT p2.id FROM participants p1 JOIN participants p2 ON " \
	"p2.email_hash = p1.email_hash WHERE p1.id = " id " AND p1.email_hash IS NOT NULL"

/* RECON_SEQS placeholders (queries.h): the seqs of one statement of a connector's
 * reconciliation. */
#define RECON_SEQS_PARAMS "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
_Static_assert(RECON_SEQS == 24, "RECON_SEQS_PARAMS spells out RECON_SEQS placeholders");

const char *const store_sql[Q__COUNT] = {
	[Q_PING] = "SELECT 1",
	/* /readyz after a write failed for the storage's sake: one small row written with a
	 * new value (the time; a row rewritten as it was is not written by SQLite at all) */
	[Q_PROBE_WRITE] = "INSERT INTO meta (key, value) VALUES ('write_probe', ?) "
			  "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[Q_PROGRAM_VERSION_DOC] = "SELECT doc FROM program_versions WHERE program = ? AND version = ?",
	[Q_PROGRAM_ACTIVE_VERSION] = "SELECT active_version FROM programs WHERE id = ?",
	[Q_PROGRAM_VERSION_GET] = "SELECT doc, status, author, approved_by FROM program_versions WHERE program = ? AND version = ?",
	[Q_PROGRAM_UPSERT] = "INSERT INTO programs (id, name, currency, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at",
	[Q_PROGRAM_NEXT_VERSION] = "SELECT COALESCE(MAX(version), 0) + 1 FROM program_versions WHERE program = ?",
	[Q_PROGRAM_VERSION_INSERT] = "INSERT INTO program_versions (program, version, doc, status, author, created_at) VALUES (?, ?, ?, 'draft', ?, ?)",
	[Q_PROGRAM_LAST_APPROVED] = "SELECT doc FROM program_versions WHERE program = ? AND version <> ? AND status = 'approved' ORDER BY version DESC LIMIT 1",
	[Q_PROGRAM_VERSION_APPROVE] = "UPDATE program_versions SET status = 'approved', approved_by = ?, approved_at = ? WHERE program = ? AND version = ?",
	[Q_PROGRAM_SET_ACTIVE] = "UPDATE programs SET active_version = ?, updated_at = ?, name = ?, currency = ? WHERE id = ?",
	[Q_PROGRAM_VERSION_ACTIVATED] = "UPDATE program_versions SET activated_at = ? WHERE program = ? AND version = ?",
	[Q_PROGRAM_VERSIONS] = "SELECT version, status, author, approved_by, approved_at, activated_at, created_at, doc FROM program_versions WHERE program = ? AND version BETWEEN ? AND ? ORDER BY version",
	[Q_PROGRAM_GET] = "SELECT id, name, currency, active_version, created_at, updated_at FROM programs WHERE id = ?",
	[Q_PROGRAM_LIST] = "SELECT id FROM programs WHERE (CAST(?1 AS TEXT) IS NULL OR seq > (SELECT p2.seq FROM programs p2 WHERE p2.id = ?1)) ORDER BY seq LIMIT ?2",
	[Q_AUDIT_TAIL] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[Q_AUDIT_INSERT] = "INSERT INTO audit (seq, at, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_AUDIT_ALL] = "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit ORDER BY seq",
	[Q_AUDIT_PAGE] = "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
	[Q_REWARD_GET] = "SELECT id, program, program_version, referral, conversion, participant, role, type, amount, currency, percent_bp, rate_bp, max_amount, months, code, pool, sku, quantity, brand, status, reason, hold_until, release_at, expires_at, connector, fulfiller, external_reference, batch, signals, attempts, next_attempt_at, last_error, fulfilled_at, created_at, updated_at FROM rewards WHERE id = ?",
	[Q_REWARD_WITH_HISTORY] = "SELECT r.id, r.program, r.program_version, r.referral, r.conversion, r.participant, r.role, r.type, r.amount, r.currency, r.percent_bp, r.rate_bp, r.max_amount, r.months, r.code, r.pool, r.sku, r.quantity, r.brand, r.status, r.reason, r.hold_until, r.release_at, r.expires_at, r.connector, r.fulfiller, r.external_reference, r.batch, r.signals, r.attempts, r.next_attempt_at, r.last_error, r.fulfilled_at, r.created_at, r.updated_at, h.from_status, h.to_status, h.actor, h.reason, h.at FROM rewards r LEFT JOIN reward_history h ON h.reward = r.id OR (h.reward = r.batch AND h.to_status = 'reconciled' AND (SELECT x.to_status FROM reward_history x WHERE x.reward = r.id AND x.seq < h.seq ORDER BY x.seq DESC LIMIT 1) = 'fulfilled') WHERE r.id = ? ORDER BY h.seq",
	[Q_REWARD_INSERT] = "INSERT INTO rewards (id, program, program_version, referral, conversion, participant, role, type, amount, currency, percent_bp, rate_bp, max_amount, months, pool, sku, quantity, brand, status, reason, hold_until, release_at, expires_at, connector, fulfiller, signals, explanation, created_at, updated_at, earned_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?28, ?29)",
	[Q_REWARD_UPDATE] = "UPDATE rewards SET status = ?, reason = ?, amount = ?, code = ?, release_at = ?, external_reference = ?, batch = ?, attempts = ?, next_attempt_at = ?, last_error = ?, fulfilled_at = ?, updated_at = ?, signals = ? WHERE id = ? AND status = ?",
	[Q_REWARD_LIST] = "SELECT id, program, program_version, referral, conversion, participant, role, type, amount, currency, percent_bp, rate_bp, max_amount, months, code, pool, sku, quantity, brand, status, reason, hold_until, release_at, expires_at, connector, fulfiller, external_reference, batch, signals, attempts, next_attempt_at, last_error, fulfilled_at, created_at, updated_at FROM rewards WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) AND (CAST(?2 AS TEXT) IS NULL OR participant = ?2) AND (CAST(?3 AS TEXT) IS NULL OR program = ?3) AND (CAST(?4 AS TEXT) IS NULL OR batch = ?4) AND (CAST(?5 AS TEXT) IS NULL OR fulfiller = ?5) AND (CAST(?6 AS TEXT) IS NULL OR seq > (SELECT r2.seq FROM rewards r2 WHERE r2.id = ?6)) AND (CAST(?8 AS TEXT) IS NULL OR reason = ?8) ORDER BY seq LIMIT ?7",
	/* the rare reasons of approved rewards that need a person (the exception queue): the
	 * OR of equalities is rewards_held's WHERE, so this reads that small partial index */
	[Q_REWARD_LIST_HELD] = "SELECT id, program, program_version, referral, conversion, participant, role, type, amount, currency, percent_bp, rate_bp, max_amount, months, code, pool, sku, quantity, brand, status, reason, hold_until, release_at, expires_at, connector, fulfiller, external_reference, batch, signals, attempts, next_attempt_at, last_error, fulfilled_at, created_at, updated_at FROM rewards WHERE reason = ?8 AND (reason = 'outcome_unknown' OR reason = 'connector_unavailable' OR reason = 'pool_empty' OR reason = 'retry_scheduled') AND (CAST(?1 AS TEXT) IS NULL OR status = ?1) AND (CAST(?2 AS TEXT) IS NULL OR participant = ?2) AND (CAST(?3 AS TEXT) IS NULL OR program = ?3) AND (CAST(?4 AS TEXT) IS NULL OR batch = ?4) AND (CAST(?5 AS TEXT) IS NULL OR fulfiller = ?5) AND (CAST(?6 AS TEXT) IS NULL OR seq > (SELECT r2.seq FROM rewards r2 WHERE r2.id = ?6)) ORDER BY seq LIMIT ?7",
	[Q_REWARD_IDS_BY_CONVERSION] = "SELECT id FROM rewards WHERE conversion = ? ORDER BY seq",
	[Q_REWARD_EXPLANATION] = "SELECT explanation FROM rewards WHERE id = ?",
	[Q_REWARDS_WAITING_TAX_FORM] = "SELECT id FROM rewards WHERE participant = ? AND status = 'pending' AND reason = 'tax_form_required' ORDER BY seq",
	[Q_HISTORY_INSERT] = "INSERT INTO reward_history (reward, from_status, to_status, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
	[Q_EVENT_GET] = "SELECT result FROM events WHERE id = ?",
	[Q_EVENT_INSERT] = "INSERT INTO events (id, type, result, occurred_at, received_at, body) VALUES (?, ?, ?, ?, ?, ?)",
	[Q_PARTICIPANT_EXISTS] = "SELECT 1 FROM participants WHERE id = ?",
	[Q_PARTICIPANT_BLOCKED] = "SELECT 1 FROM participants WHERE id = ? AND status = 'blocked'",
	/* block.c: a participant just blocked - its rewards not delivered yet (issuing ones
	 * are at the provider), locked (PostgreSQL) so a worker chunk or a batch that claimed
	 * one first commits before the block reads it, and none claims one after */
	[Q_PARTICIPANT_REWARDS_TO_HOLD] = "SELECT id FROM rewards WHERE participant = ? AND (status = 'pending' OR status = 'approved') ORDER BY seq@FOR_UPDATE@",
	[Q_PARTICIPANT_BY_EMAIL] = "SELECT id FROM participants WHERE email_hash = ? ORDER BY seq LIMIT 1",
	[Q_PARTICIPANT_ROW] = "SELECT email_enc, email_hash, name_enc, country, currency, status, tax_form, attributes, devices, ips, created_at, updated_at, id FROM participants WHERE id = ?",
	[Q_PARTICIPANT_UPSERT] = "INSERT INTO participants (id, email_enc, email_hash, name_enc, country, currency, status, tax_form, attributes, devices, ips, created_at, updated_at, key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13) ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, email_enc = excluded.email_enc, email_hash = excluded.email_hash, name_enc = excluded.name_enc, country = excluded.country, currency = excluded.currency, status = excluded.status, tax_form = excluded.tax_form, attributes = excluded.attributes, devices = excluded.devices, ips = excluded.ips, updated_at = excluded.updated_at",
	[Q_PARTICIPANT_LIST] = "SELECT email_enc, email_hash, name_enc, country, currency, status, tax_form, attributes, devices, ips, created_at, updated_at, id FROM participants WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) AND (CAST(?2 AS TEXT) IS NULL OR country = ?2) AND (CAST(?3 AS TEXT) IS NULL OR id = ?3) AND (CAST(?4 AS TEXT) IS NULL OR seq > (SELECT p2.seq FROM participants p2 WHERE p2.id = ?4)) ORDER BY seq LIMIT ?5",
	[Q_PARTICIPANT_REFERRAL_COUNTS] = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'successful' THEN 1 ELSE 0 END), 0) FROM referrals WHERE referrer = ?",
	[Q_PARTICIPANT_REWARD_COUNTS] = "SELECT status, COUNT(*) FROM rewards WHERE participant = ? GROUP BY status ORDER BY status",
	[Q_REFERRAL_EXISTS] = "SELECT 1 FROM referrals WHERE id = ?",
	[Q_REFERRAL_GET] = "SELECT id, program, referrer, referred, code, source, affiliate, ip, device_id, occurred_at, status, rejection_reason, signals, created_at, updated_at, explanation FROM referrals WHERE id = ?",
	[Q_REFERRAL_GET_EVALUATED] = REFERRAL_EVALUATED("referrals") " WHERE r.id = ?",
	[Q_REFERRAL_INSERT] = "INSERT INTO referrals (id, program, referrer, referred, code, source, affiliate, ip, device_id, occurred_at, event, status, created_at, updated_at, signals, rejection_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?13, ?12, ?12, ?14, ?15)",
	[Q_REFERRALS_OF_REFERRED] = "SELECT id, program, referrer, referred, code, source, affiliate, ip, device_id, occurred_at, status, rejection_reason, signals, created_at, updated_at, explanation FROM referrals WHERE referred = ? AND status IN ('pending', 'successful') ORDER BY occurred_at, seq",
	[Q_REFERRAL_SET_STATUS] = "UPDATE referrals SET status = ?1, updated_at = ?2 WHERE id = ?3 AND status <> ?1",
	[Q_REFERRAL_SET_EXPLANATION] = "UPDATE referrals SET explanation = ? WHERE id = ?",
	[Q_REFERRAL_LIST_BY_REFERRER] = REFERRAL_EVALUATED("(SELECT * FROM referrals WHERE referrer = ?1 AND (CAST(?2 AS TEXT) IS NULL OR seq > (SELECT r2.seq FROM referrals r2 WHERE r2.id = ?2)) ORDER BY seq LIMIT ?3)") " ORDER BY r.seq",
	[Q_CONVERSION_EXISTS] = "SELECT 1 FROM conversions WHERE id = ?",
	[Q_CONVERSION_GET] = "SELECT id, participant, amount, currency, category, product, attributes, occurred_at, refunded, referral, program, program_version, explanation, created_at, context, refund_reason FROM conversions WHERE id = ?",
	[Q_CONVERSION_INSERT] = "INSERT INTO conversions (id, participant, amount, currency, category, product, attributes, occurred_at, referral, program, program_version, context, explanation, event, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_CONVERSION_ADD_REFUND] = "UPDATE conversions SET refunded = refunded + ?, refund_reason = ? WHERE id = ?",
	[Q_CONVERSION_EXPLANATION] = "SELECT explanation, participant FROM conversions WHERE id = ?",
	[Q_STATS_REFERRER_SUCCESSFUL] = "SELECT COUNT(*) FROM referrals WHERE referrer = ? AND program = ? AND status = 'successful'",
	[Q_STATS_REFERRER_REFERRALS] = "SELECT COUNT(*) FROM referrals WHERE referrer = ? AND program = ?",
	[Q_STATS_REFERRER_REWARDS_SINCE] = "SELECT a.n - v.n, a.s - v.s FROM (SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN currency = ?4 THEN amount ELSE 0 END), 0) AS s FROM rewards WHERE participant = ?1 AND program = ?2 AND role = 'referrer' AND earned_at >= ?3 AND earned_at < ?5) a, (SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN currency = ?4 THEN amount ELSE 0 END), 0) AS s FROM rewards WHERE participant = ?1 AND program = ?2 AND role = 'referrer' AND earned_at >= ?3 AND earned_at < ?5 AND (status = 'cancelled' OR status = 'reversed')) v",
	/* the referred person's mailbox: this id and every other with its normalized e-mail,
	 * as the existing_customer signal sees it (docs/programs.md) */
	[Q_STATS_PRIOR_CONVERSIONS] = "SELECT COUNT(*) FROM conversions WHERE participant IN (" MAILBOX_OF("?1") ")",
	[Q_LEDGER_ENTRY_INSERT] = "INSERT INTO ledger_entries (journal, account, currency, amount, kind, reward, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
	[Q_LEDGER_BALANCE_ADD] = "INSERT INTO ledger_balances (account, currency, balance) VALUES (?, ?, ?) ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + excluded.balance",
	[Q_LEDGER_BALANCE_GET] = "SELECT balance FROM ledger_balances WHERE account = ? AND currency = ?",
	[Q_LEDGER_BALANCE_LOCK] = "SELECT balance FROM ledger_balances WHERE account = ? AND currency = ?@FOR_UPDATE@",
	[Q_LEDGER_BALANCES_OF] = "SELECT currency, balance FROM ledger_balances WHERE account = ? ORDER BY currency",
	[Q_LOT_GET] = "SELECT amount, remaining FROM ledger_lots WHERE reward = ?",
	[Q_LOT_INSERT] = "INSERT INTO ledger_lots (reward, participant, currency, amount, remaining, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
	[Q_LOT_TAKE] = "UPDATE ledger_lots SET remaining = remaining - ? WHERE reward = ?",
	[Q_LOT_NEXT_OPEN] = "SELECT reward, remaining FROM ledger_lots WHERE participant = ? AND currency = ? AND remaining > 0 ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, seq LIMIT 1",
	[Q_LOT_NEXT_VALID] = "SELECT reward, remaining FROM ledger_lots WHERE participant = ? AND currency = ? AND remaining > 0 AND (expires_at IS NULL OR expires_at > ?) ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, seq LIMIT 1",
	[Q_LOT_VALID_TOTAL] = "SELECT COALESCE(SUM(remaining), 0) FROM ledger_lots WHERE participant = ? AND currency = ? AND remaining > 0 AND (expires_at IS NULL OR expires_at > ?)",
	[Q_LEDGER_CHECK_ZERO] = "SELECT currency, SUM(amount) FROM ledger_entries GROUP BY currency HAVING SUM(amount) <> 0 LIMIT 1",
	[Q_LEDGER_CHECK_BALANCES] = "SELECT b.account, b.currency, b.balance, COALESCE(s.total, 0) FROM ledger_balances b LEFT JOIN (SELECT account, currency, SUM(amount) AS total FROM ledger_entries GROUP BY account, currency) s ON s.account = b.account AND s.currency = b.currency WHERE b.balance <> COALESCE(s.total, 0) LIMIT 1",
	[Q_LEDGER_CHECK_LOTS] = "SELECT b.account, b.currency, b.balance, COALESCE(l.total, 0) FROM ledger_balances b LEFT JOIN (SELECT participant, currency, SUM(remaining) AS total FROM ledger_lots GROUP BY participant, currency) l ON l.participant = substr(b.account, 13) AND l.currency = b.currency WHERE b.account LIKE 'participant:%' AND (CASE WHEN b.balance > 0 THEN b.balance ELSE 0 END) <> COALESCE(l.total, 0) LIMIT 1",
	[Q_LEDGER_CHECK_LOT_RANGE] = "SELECT reward, remaining, amount FROM ledger_lots WHERE remaining < 0 OR remaining > amount LIMIT 1",
	[Q_REPORT_PARTICIPANTS] = "SELECT p.id, (SELECT COUNT(*) FROM referrals r WHERE r.referrer = p.id), (SELECT COUNT(*) FROM referrals r WHERE r.referrer = p.id AND r.status = 'successful'), (SELECT COUNT(*) FROM rewards w WHERE w.participant = p.id AND w.status NOT IN ('cancelled', 'reversed')), (SELECT COUNT(*) FROM rewards w WHERE w.participant = p.id AND w.status IN ('fulfilled', 'reconciled')) FROM participants p WHERE (CAST(?1 AS TEXT) IS NULL OR p.id = ?1) ORDER BY p.seq",
	[Q_REPORT_PARTICIPANT_STATUS] = "SELECT participant, status, COUNT(*) FROM rewards WHERE (CAST(?1 AS TEXT) IS NULL OR participant = ?1) GROUP BY participant, status ORDER BY participant, status",
	[Q_REPORT_PARTICIPANT_AMOUNTS] = "SELECT participant, currency, COALESCE(SUM(CASE WHEN status NOT IN ('cancelled', 'reversed') THEN amount ELSE 0 END), 0), COALESCE(SUM(CASE WHEN status IN ('fulfilled', 'reconciled') THEN amount ELSE 0 END), 0) FROM rewards WHERE currency IS NOT NULL AND amount IS NOT NULL AND (CAST(?1 AS TEXT) IS NULL OR participant = ?1) GROUP BY participant, currency ORDER BY participant, currency",
	[Q_KEY_INSERT] = "INSERT INTO api_keys (prefix, hash, role, name, participant, fulfiller, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
	[Q_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL",
	[Q_KEY_BY_HASH] = "SELECT prefix, role, participant, fulfiller, revoked_at FROM api_keys WHERE hash = ?",
	[Q_IDEM_GET] = "SELECT fingerprint, status, body FROM idempotency WHERE scope = ? AND key = ? AND created_at >= ?",
	[Q_IDEM_DELETE_EXPIRED_KEY] = "DELETE FROM idempotency WHERE scope = ? AND key = ? AND created_at < ?",
	[Q_IDEM_INSERT] = "INSERT INTO idempotency (scope, key, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
	[Q_IDEM_EXPIRED_ANY] = "SELECT 1 FROM idempotency WHERE created_at < ? LIMIT 1",
	[Q_IDEM_PURGE] = "DELETE FROM idempotency WHERE (scope, key) IN (SELECT scope, key FROM idempotency WHERE created_at < ?1 ORDER BY created_at LIMIT 1000)",
	[Q_WORKER_RELEASABLE] = "SELECT id, program, program_version, referral, conversion, participant, role, type, amount, currency, percent_bp, rate_bp, max_amount, months, code, pool, sku, quantity, brand, status, reason, hold_until, release_at, expires_at, connector, fulfiller, external_reference, batch, signals, attempts, next_attempt_at, last_error, fulfilled_at, created_at, updated_at FROM rewards WHERE status = 'pending' AND reason IN ('hold_period', 'schedule') AND release_at <= ? ORDER BY release_at, seq LIMIT ?@LOCK@",
	[Q_WORKER_HOLD_TO_SCHEDULE] = "UPDATE rewards SET reason = 'schedule', updated_at = ? WHERE status = 'pending' AND reason = 'hold_period' AND hold_until <= ?",
	/* REWARD_COLS, then 1 when the reward's participant is blocked (worker.c holds it for
	 * review instead of delivering it) */
	[Q_WORKER_FULFILLABLE] = "SELECT id, program, program_version, referral, conversion, participant, role, type, amount, currency, percent_bp, rate_bp, max_amount, months, code, pool, sku, quantity, brand, status, reason, hold_until, release_at, expires_at, connector, fulfiller, external_reference, batch, signals, attempts, next_attempt_at, last_error, fulfilled_at, created_at, updated_at, CASE WHEN EXISTS (SELECT 1 FROM participants p WHERE p.id = rewards.participant AND p.status = 'blocked') THEN 1 ELSE 0 END FROM rewards WHERE status = 'approved' AND connector IN ('ledger', 'code_pool') AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY seq LIMIT ?@LOCK@",
	[Q_WORKER_EXPIRABLE] = "SELECT r.id, r.program, r.program_version, r.referral, r.conversion, r.participant, r.role, r.type, r.amount, r.currency, r.percent_bp, r.rate_bp, r.max_amount, r.months, r.code, r.pool, r.sku, r.quantity, r.brand, r.status, r.reason, r.hold_until, r.release_at, r.expires_at, r.connector, r.fulfiller, r.external_reference, r.batch, r.signals, r.attempts, r.next_attempt_at, r.last_error, r.fulfilled_at, r.created_at, r.updated_at FROM rewards r WHERE r.expires_at <= ? AND ((r.status = 'approved' AND COALESCE(r.last_error, '') NOT LIKE 'outcome unknown: %' AND (r.batch IS NULL OR EXISTS (SELECT 1 FROM batches b WHERE b.id = r.batch AND b.status = 'open'))) OR (r.status = 'fulfilled' AND r.connector = 'ledger' AND EXISTS (SELECT 1 FROM ledger_lots l WHERE l.reward = r.id AND l.remaining > 0))) ORDER BY r.expires_at, r.seq LIMIT ?@LOCK@",
	[Q_BLOCKLIST_ANY] = "SELECT 1 FROM blocklist LIMIT 1",
	[Q_BLOCKLIST_HAS] = "SELECT 1 FROM blocklist WHERE kind = ? AND value = ?",
	[Q_BLOCKLIST_OF_KIND] = "SELECT value FROM blocklist WHERE kind = ?",
	[Q_BLOCKLIST_PUT] = "INSERT INTO blocklist (kind, value, value_enc, note, created_at, key_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, value) DO UPDATE SET note = excluded.note",
	[Q_BLOCKLIST_DELETE] = "DELETE FROM blocklist WHERE kind = ? AND value = ?",
	[Q_BLOCKLIST_LIST] = "SELECT kind, value, value_enc, note, created_at FROM blocklist ORDER BY kind, created_at, value",
	[Q_FRAUD_CONVERTED_BEFORE] = "SELECT COUNT(*) FROM conversions WHERE participant IN (" MAILBOX_OF("?1") ") AND occurred_at < ?2",
	[Q_FRAUD_DUPLICATE] = "SELECT referrer, referred FROM referrals WHERE referred IN (" MAILBOX_OF("?1") ") AND program = ?2 AND status <> 'rejected' AND (referrer = ?3 OR status = 'successful') ORDER BY CASE WHEN referrer = ?3 THEN 0 ELSE 1 END LIMIT 1",
	[Q_FRAUD_DUPLICATE_SUCCEEDED] = "SELECT r.id, r.referred FROM participants p1 JOIN participants p2 ON p2.email_hash = p1.email_hash AND p2.id <> p1.id JOIN referrals r ON r.referred = p2.id WHERE p1.id = ?1 AND p1.email_hash IS NOT NULL AND r.program = ?2 AND r.status = 'successful' ORDER BY r.occurred_at, r.seq LIMIT 1",
	[Q_FRAUD_CUSTOMER_BEFORE_REFERRAL] = "SELECT COUNT(*) FROM conversions WHERE participant IN (" MAILBOX_OF("?1") ") AND occurred_at < ?2 AND (referral IS NULL OR referral <> ?3)",
	/* the same for a buyer whose mailbox has no other participant id (the usual case) */
	[Q_FRAUD_CUSTOMER_BEFORE_REFERRAL_OWN] = "SELECT 1 FROM conversions WHERE participant = ?1 AND occurred_at < ?2 AND (referral IS NULL OR referral <> ?3) LIMIT 1",
	/* another participant id with this e-mail: only then are the mailbox checks run */
	[Q_FRAUD_MAILBOX_SHARED] = "SELECT 1 FROM participants WHERE email_hash = ?1 AND id <> ?2 LIMIT 1",
	/* one program's referrals only (docs/fraud.md), from referrals_referrer (migration 12) */
	[Q_FRAUD_VELOCITY] = "SELECT COUNT(*) FROM referrals WHERE referrer = ? AND program = ? AND occurred_at > ? AND occurred_at <= ?",
	[Q_REFERRAL_REJECT] = "UPDATE referrals SET status = 'rejected', rejection_reason = ?, updated_at = ? WHERE id = ?",
	[Q_ANOMALY_VERSION_SAMPLE] = "SELECT COUNT(DISTINCT conversion), COALESCE(SUM(amount), 0) FROM (SELECT conversion, amount FROM rewards WHERE program = ? AND program_version = ? AND conversion IS NOT NULL AND amount IS NOT NULL AND currency = ? ORDER BY seq DESC LIMIT ?) recent",
	[Q_ANOMALY_PREVIOUS_VERSION] = "SELECT version FROM program_versions WHERE program = ? AND version < ? AND activated_at IS NOT NULL ORDER BY activated_at DESC, version DESC LIMIT 1",
	[Q_PROGRAM_VERSION_ANOMALY] = "UPDATE program_versions SET anomaly_at = ? WHERE program = ? AND version = ? AND anomaly_at IS NULL",
	[Q_PARTICIPANTS_TO_ROTATE] = "SELECT id, email_enc, name_enc FROM participants WHERE key_id IS NULL OR key_id <> ? ORDER BY seq LIMIT ?@FOR_UPDATE@",
	[Q_PARTICIPANT_REKEY] = "UPDATE participants SET email_enc = ?, email_hash = ?, name_enc = ?, key_id = ? WHERE id = ?",
	[Q_BLOCKLIST_TO_ROTATE] = "SELECT kind, value, value_enc FROM blocklist WHERE kind = 'email' AND (key_id IS NULL OR key_id <> ?) LIMIT ?@FOR_UPDATE@",
	[Q_BLOCKLIST_REKEY] = "UPDATE blocklist SET value = ?, value_enc = ?, key_id = ? WHERE kind = 'email' AND value = ?",
	[Q_PROGRAM_VERSION_ANOMALY_AT] = "SELECT anomaly_at FROM program_versions WHERE program = ? AND version = ?",
	[Q_CONNECTOR_GET] = "SELECT id, type, config, secrets, failures, open_until, created_at, updated_at FROM connectors WHERE id = ?",
	[Q_CONNECTOR_BY_TYPE] = "SELECT id, type, config, secrets, failures, open_until, created_at, updated_at FROM connectors WHERE type = ? ORDER BY seq LIMIT 1",
	[Q_CONNECTOR_UPSERT] = "INSERT INTO connectors (id, type, config, secrets, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO UPDATE SET type = excluded.type, config = excluded.config, secrets = excluded.secrets, failures = 0, open_until = NULL, updated_at = excluded.updated_at",
	[Q_CONNECTOR_LIST] = "SELECT id, type, config, secrets, failures, open_until, created_at, updated_at FROM connectors WHERE (CAST(?1 AS TEXT) IS NULL OR seq > (SELECT c2.seq FROM connectors c2 WHERE c2.id = ?1)) ORDER BY seq LIMIT ?2",
	[Q_CONNECTOR_DELETE] = "DELETE FROM connectors WHERE id = ?",
	[Q_CONNECTOR_FAILURE] = "UPDATE connectors SET failures = failures + 1, open_until = CASE WHEN failures + 1 >= ?2 THEN ?3 ELSE open_until END WHERE id = ?1",
	[Q_CONNECTOR_SUCCESS] = "UPDATE connectors SET failures = 0, open_until = NULL WHERE id = ? AND (failures <> 0 OR open_until IS NOT NULL)",
	[Q_REWARDS_UNHOLD_CONNECTOR] = "UPDATE rewards SET next_attempt_at = NULL, reason = 'awaiting_fulfillment', updated_at = ?1 WHERE status = 'approved' AND connector = ?2 AND reason = 'connector_unavailable'",
	[Q_POOL_GET] = "SELECT id, low_stock_threshold, per_participant_limit, low_alerted, created_at, updated_at FROM code_pools WHERE id = ?",
	/* codepool.c: Q_POOL_GET with the pool's row locked (PostgreSQL), for a pool with a
	 * per-participant limit: its assignments take turns, so the count they check sees
	 * every code assigned before */
	[Q_POOL_LOCK] = "SELECT id, low_stock_threshold, per_participant_limit, low_alerted, created_at, updated_at FROM code_pools WHERE id = ?@FOR_UPDATE@",
	[Q_POOL_UPSERT] = "INSERT INTO code_pools (id, low_stock_threshold, per_participant_limit, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (id) DO UPDATE SET low_stock_threshold = excluded.low_stock_threshold, per_participant_limit = excluded.per_participant_limit, updated_at = excluded.updated_at",
	[Q_POOL_ENSURE] = "INSERT INTO code_pools (id, created_at, updated_at) VALUES (?1, ?2, ?2) ON CONFLICT (id) DO NOTHING",
	[Q_POOL_LIST] = "SELECT id FROM code_pools WHERE (CAST(?1 AS TEXT) IS NULL OR seq > (SELECT p2.seq FROM code_pools p2 WHERE p2.id = ?1)) ORDER BY seq LIMIT ?2",
	[Q_POOL_COUNTS] = "SELECT status, COUNT(*) FROM codes WHERE pool = ? GROUP BY status",
	[Q_POOL_AVAILABLE] = "SELECT COUNT(*) FROM (SELECT 1 FROM codes WHERE pool = ? AND status = 'available' LIMIT ?) t",
	[Q_POOL_SET_ALERTED] = "UPDATE code_pools SET low_alerted = ? WHERE id = ?",
	[Q_CODE_INSERT] = "INSERT INTO codes (pool, code, status, created_at) VALUES (?, ?, 'available', ?) ON CONFLICT (pool, code) DO NOTHING",
	[Q_CODE_NEXT] = "SELECT seq, code FROM codes WHERE pool = ? AND status = 'available' ORDER BY seq LIMIT 1@LOCK@",
	[Q_CODE_ASSIGN] = "UPDATE codes SET status = 'assigned', reward = ?, participant = ?, assigned_at = ? WHERE seq = ? AND status = 'available'",
	[Q_CODE_OF_REWARD] = "SELECT code, pool, status FROM codes WHERE reward = ?",
	[Q_CODE_COUNT_PARTICIPANT] = "SELECT COUNT(*) FROM codes WHERE pool = ? AND participant = ?",
	[Q_CODE_GET] = "SELECT status, reward, participant, assigned_at, redeemed_at FROM codes WHERE pool = ? AND code = ?",
	[Q_CODE_SET_STATUS] = "UPDATE codes SET status = ?, redeemed_at = ? WHERE pool = ? AND code = ?",
	[Q_REWARDS_UNHOLD_POOL] = "UPDATE rewards SET next_attempt_at = NULL, reason = 'awaiting_fulfillment', updated_at = ?1 WHERE status = 'approved' AND pool = ?2 AND reason = 'pool_empty'",
	[Q_WORKER_ISSUABLE] = "SELECT id FROM rewards WHERE (status = 'issuing' OR (status = 'approved' AND connector NOT IN ('ledger', 'code_pool', 'manual'))) AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY seq LIMIT ?@LOCK@",
	[Q_REWARD_ATTEMPT_GET] = "SELECT attempt_id, redeemed_at, provider_status, sync_at FROM rewards WHERE id = ?",
	[Q_REWARD_ATTEMPT_SET] = "UPDATE rewards SET attempt_id = ? WHERE id = ?",
	[Q_REWARD_SYNC_SET] = "UPDATE rewards SET sync_at = ?, provider_status = ?, redeemed_at = COALESCE(redeemed_at, ?) WHERE id = ?",
	[Q_WORKER_SYNCABLE] = "SELECT id FROM rewards WHERE sync_at IS NOT NULL AND sync_at <= ? AND status IN ('fulfilled', 'reconciled') ORDER BY sync_at, seq LIMIT ?@LOCK@",
	[Q_WH_ENDPOINT_INSERT] = "INSERT INTO webhook_endpoints (id, url, secret, events, description, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'enabled', ?6, ?6)",
	[Q_WH_ENDPOINT_GET] = "SELECT id, url, secret, events, description, status, disabled_reason, created_at, updated_at FROM webhook_endpoints WHERE id = ?",
	[Q_WH_ENDPOINT_LIST] = "SELECT id, url, secret, events, description, status, disabled_reason, created_at, updated_at FROM webhook_endpoints WHERE (CAST(?1 AS TEXT) IS NULL OR seq > (SELECT e2.seq FROM webhook_endpoints e2 WHERE e2.id = ?1)) ORDER BY seq LIMIT ?2",
	[Q_WH_ENDPOINT_DELETE] = "DELETE FROM webhook_endpoints WHERE id = ?",
	[Q_WH_ENDPOINTS_ENABLED] = "SELECT id, events FROM webhook_endpoints WHERE status = 'enabled' ORDER BY seq",
	[Q_WH_ENDPOINT_DISABLE] = "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = ?1, updated_at = ?2 WHERE id = ?3",
	[Q_WH_DELIVERY_INSERT] = "INSERT INTO webhook_deliveries (id, endpoint, message_id, type, payload, status, next_attempt_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6)",
	[Q_WH_DELIVERIES_DUE] = "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?@LOCK@",
	[Q_WH_DELIVERY_GET] = "SELECT d.id, d.endpoint, d.message_id, d.type, d.payload, d.status, d.attempts, d.created_at, e.url, e.secret, e.status FROM webhook_deliveries d LEFT JOIN webhook_endpoints e ON e.id = d.endpoint WHERE d.id = ?",
	[Q_WH_DELIVERY_LEASE] = "UPDATE webhook_deliveries SET next_attempt_at = ?1, attempts = attempts + 1, updated_at = ?2 WHERE id = ?3 AND status = 'pending' AND attempts = ?4",
	[Q_WH_DELIVERY_RESULT] = "UPDATE webhook_deliveries SET status = ?1, next_attempt_at = ?2, last_status = ?3, last_error = ?4, updated_at = ?5 WHERE id = ?6 AND attempts = ?7 AND status = 'pending'",
	[Q_WH_DELIVERIES_CANCEL] = "UPDATE webhook_deliveries SET status = 'failed', last_error = ?1, updated_at = ?2 WHERE endpoint = ?3 AND status = 'pending'",
	[Q_WH_ATTEMPT_INSERT] = "INSERT INTO webhook_attempts (delivery, endpoint, message_id, type, attempt, status_code, error, duration_ms, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_WH_ATTEMPTS_LIST] = "SELECT seq, delivery, message_id, type, attempt, status_code, error, duration_ms, at FROM webhook_attempts WHERE endpoint = ? AND seq > ? ORDER BY seq LIMIT ?",
	[Q_WH_DELIVERY_COUNTS] = "SELECT status, COUNT(*) FROM webhook_deliveries WHERE endpoint = ? GROUP BY status",
	[Q_NOTIFY_INSERT] = "INSERT INTO notifications (id, reward, participant, milestone, message, status, next_attempt_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6) ON CONFLICT (reward, milestone) DO NOTHING",
	[Q_NOTIFY_DUE] = "SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT ?@LOCK@",
	[Q_NOTIFY_GET] = "SELECT id, reward, participant, milestone, message, status, attempts, data_started FROM notifications WHERE id = ?",
	[Q_NOTIFY_LEASE] = "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?1, updated_at = ?2 WHERE id = ?3 AND status = 'pending' AND attempts = ?4",
	/* notify.c: the lease again, from the moment the message is sent, if it is still ours
	 * (no other worker leased it since: the attempt count is the one we set) */
	[Q_NOTIFY_RENEW] = "UPDATE notifications SET next_attempt_at = ?1, updated_at = ?2 WHERE id = ?3 AND status = 'pending' AND attempts = ?4 AND data_started = 0",
	[Q_NOTIFY_DATA_STARTED] = "UPDATE notifications SET data_started = 1 WHERE id = ?",
	[Q_NOTIFY_RESULT] = "UPDATE notifications SET status = ?1, next_attempt_at = ?2, last_error = ?3, updated_at = ?4, data_started = ?6 WHERE id = ?5",
	[Q_NOTIFY_LIST] = "SELECT id, reward, participant, milestone, status, attempts, last_error, created_at, updated_at FROM notifications WHERE (CAST(?1 AS TEXT) IS NULL OR reward = ?1) AND (CAST(?3 AS TEXT) IS NULL OR seq > (SELECT n2.seq FROM notifications n2 WHERE n2.id = ?3)) ORDER BY seq LIMIT ?2",
	[Q_PROGRAM_ROLLBACK_TO] = "UPDATE programs SET active_version = ?, updated_at = ? WHERE id = ?",
	[Q_SIM_CONVERSIONS] = "SELECT c.id, c.participant, c.amount, c.currency, c.referral, c.context, c.seq, c.created_at FROM conversions c JOIN referrals r ON r.id = c.referral WHERE r.program = ? AND c.occurred_at >= ? AND c.occurred_at < ? ORDER BY c.seq",
	[Q_SIM_DELETE_REWARD] = "DELETE FROM rewards WHERE id = ?",
	/* stats as they stood when a conversion was ingested (simulation): by its ingest time, or its seq */
	[Q_SIM_STATS_REFERRER_SUCCESSFUL] = "SELECT COUNT(*) FROM referrals WHERE referrer = ?1 AND program = ?2 AND status = 'successful' AND updated_at <= ?3 AND id <> ?4",
	[Q_SIM_STATS_REFERRER_REFERRALS] = "SELECT COUNT(*) FROM referrals WHERE referrer = ?1 AND program = ?2 AND created_at <= ?3",
	[Q_SIM_STATS_PRIOR_CONVERSIONS] = "SELECT COUNT(*) FROM conversions WHERE participant IN (" MAILBOX_OF("?1") ") AND seq < ?2",
	/* finance (batch.c, recon.c, tax.c, fx.c, report.c). BATCH_COLS: id, fulfiller, connector, currency, until_at, status, reward_count, totals, reference, last_reconciliation, created_by, created_at, updated_at, closed_at, fulfilled_at, reconciled_at */
	[Q_BATCH_INSERT] = "INSERT INTO batches (id, fulfiller, connector, currency, until_at, status, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?7)",
	[Q_BATCH_CANDIDATE_SEQS] = "SELECT seq FROM rewards WHERE status = 'approved' AND COALESCE(batch, '') = '' AND connector = ?1 AND fulfiller = ?2 AND (CAST(?3 AS TEXT) IS NULL OR currency = ?3) AND (CAST(?4 AS BIGINT) IS NULL OR created_at <= ?4) AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.id = rewards.participant AND p.status = 'blocked') ORDER BY seq",
	[Q_BATCH_ASSIGN] = "UPDATE rewards SET batch = ?1, reason = 'in_batch', updated_at = ?2 WHERE status = 'approved' AND batch IS NULL AND connector = ?3 AND fulfiller = ?4 AND (CAST(?5 AS TEXT) IS NULL OR currency = ?5) AND (CAST(?6 AS BIGINT) IS NULL OR created_at <= ?6) AND seq >= ?7 AND seq <= ?8 AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.id = rewards.participant AND p.status = 'blocked')",
	[Q_BATCH_HISTORY_ASSIGNED] = "INSERT INTO reward_history (reward, from_status, to_status, actor, reason, at) SELECT id, 'approved', 'approved', CAST(?1 AS TEXT), 'in_batch', CAST(?2 AS BIGINT) FROM rewards WHERE batch = ?3 AND seq >= ?4 AND seq <= ?5 ORDER BY seq",
	[Q_BATCH_TOTALS] = "SELECT COALESCE(currency, ''), COUNT(*), COALESCE(SUM(amount), 0) FROM rewards WHERE batch = ? GROUP BY currency ORDER BY 1",
	[Q_BATCH_SET_SUMMARY] = "UPDATE batches SET reward_count = ?, totals = ? WHERE id = ?",
	[Q_BATCH_GET] = "SELECT id, fulfiller, connector, currency, until_at, status, reward_count, totals, reference, last_reconciliation, created_by, created_at, updated_at, closed_at, fulfilled_at, reconciled_at FROM batches WHERE id = ?",
	/* batch.c, batch_hold_of: a batch's status, its row locked until the transaction ends
	 * (PostgreSQL), so that a reward does not leave a batch that is being closed */
	[Q_BATCH_STATUS_LOCK] = "SELECT status FROM batches WHERE id = ?@FOR_UPDATE@",
	[Q_BATCH_LIST] = "SELECT id, fulfiller, connector, currency, until_at, status, reward_count, totals, reference, last_reconciliation, created_by, created_at, updated_at, closed_at, fulfilled_at, reconciled_at FROM batches WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) AND (CAST(?2 AS TEXT) IS NULL OR fulfiller = ?2) AND (CAST(?3 AS TEXT) IS NULL OR seq > (SELECT b2.seq FROM batches b2 WHERE b2.id = ?3)) ORDER BY seq LIMIT ?4",
	[Q_BATCH_REWARD_IDS] = "SELECT id FROM rewards WHERE batch = ? ORDER BY seq",
	[Q_BATCH_SEQS] = "SELECT seq FROM rewards WHERE batch = ? ORDER BY seq",
	[Q_BATCH_STATUS_COUNTS] = "SELECT status, COUNT(*) FROM rewards WHERE batch = ? GROUP BY status ORDER BY status",
	[Q_BATCH_REFUNDED_CONVERSIONS] = "SELECT DISTINCT r.conversion FROM rewards r JOIN conversions c ON c.id = r.conversion WHERE r.batch = ? AND c.refunded > 0 ORDER BY 1",
	[Q_BATCH_REPORT] = "SELECT id, participant, type, amount, currency, external_reference FROM rewards WHERE batch = ? ORDER BY seq",
	[Q_BATCH_TRANSITION] = "UPDATE batches SET status = ?1, updated_at = ?2, reference = COALESCE(CAST(?3 AS TEXT), reference), closed_at = COALESCE(CAST(?4 AS BIGINT), closed_at), fulfilled_at = COALESCE(CAST(?5 AS BIGINT), fulfilled_at), reconciled_at = COALESCE(CAST(?6 AS BIGINT), reconciled_at), last_reconciliation = COALESCE(CAST(?7 AS TEXT), last_reconciliation) WHERE id = ?8 AND status = ?9",
	[Q_BATCH_REWARDS_FULFILL] = "UPDATE rewards SET status = 'fulfilled', reason = NULL, fulfilled_at = ?1, updated_at = ?1, external_reference = COALESCE(external_reference, CAST(?2 AS TEXT)) WHERE batch = ?3 AND status = 'approved' AND seq >= ?4 AND seq <= ?5",
	/* batch.c: the approved rewards of blocked participants that a new batch would take,
	 * and those in a batch being fulfilled: held for review instead (block.c) */
	[Q_BATCH_BLOCKED_CANDIDATES] = "SELECT r.id FROM rewards r JOIN participants p ON p.id = r.participant WHERE p.status = 'blocked' AND r.status = 'approved' AND COALESCE(r.batch, '') = '' AND r.connector = ?1 AND r.fulfiller = ?2 AND (CAST(?3 AS TEXT) IS NULL OR r.currency = ?3) AND (CAST(?4 AS BIGINT) IS NULL OR r.created_at <= ?4) ORDER BY r.seq",
	[Q_BATCH_BLOCKED_MEMBERS] = "SELECT r.id FROM rewards r JOIN participants p ON p.id = r.participant WHERE r.batch = ? AND r.status = 'approved' AND p.status = 'blocked' ORDER BY r.seq",
	[Q_BATCH_HISTORY_FULFILLED] = "INSERT INTO reward_history (reward, from_status, to_status, actor, reason, at) SELECT id, 'approved', 'fulfilled', CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS BIGINT) FROM rewards WHERE batch = ?4 AND status = 'fulfilled' AND updated_at = ?3 AND seq >= ?5 AND seq <= ?6 ORDER BY seq",
	[Q_BATCH_REWARDS_RECONCILE] = "UPDATE rewards SET status = 'reconciled', reason = NULL, updated_at = ?1 WHERE batch = ?2 AND status = 'fulfilled' AND seq >= ?3 AND seq <= ?4",
	[Q_BATCH_EXPECTED] = "SELECT id, amount, COALESCE(currency, ''), external_reference, seq FROM rewards WHERE batch = ?1 AND seq NOT IN (SELECT seq FROM rewards WHERE batch = ?1 AND status <> 'fulfilled' AND status <> 'reconciled') ORDER BY seq",
	[Q_RECON_CONNECTOR_EXPECTED] = "SELECT id, amount, COALESCE(currency, ''), external_reference, seq FROM rewards WHERE connector = ?1 AND status = 'fulfilled' AND external_reference IS NOT NULL AND (CAST(?2 AS BIGINT) IS NULL OR fulfilled_at >= ?2) AND (CAST(?3 AS BIGINT) IS NULL OR fulfilled_at < ?3) ORDER BY seq",
	[Q_RECON_REWARDS_RECONCILE] = "UPDATE rewards SET status = 'reconciled', reason = NULL, updated_at = ?1 WHERE status = 'fulfilled' AND seq IN (" RECON_SEQS_PARAMS ")",
	[Q_RECON_HISTORY_RECONCILED] = "INSERT INTO reward_history (reward, from_status, to_status, actor, reason, at) SELECT id, 'fulfilled', 'reconciled', CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT) FROM rewards WHERE status = 'reconciled' AND updated_at = ? AND seq IN (" RECON_SEQS_PARAMS ") ORDER BY seq",
	[Q_RECON_INSERT] = "INSERT INTO reconciliations (id, batch, connector, status, lines, matched, amount_mismatch, missing, unexpected, duplicate, invalid, discrepancies, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_RECON_STATS] = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'reconciled' THEN 1 ELSE 0 END), 0), COALESCE(SUM(lines), 0), COALESCE(SUM(matched), 0), COALESCE(SUM(amount_mismatch), 0), COALESCE(SUM(missing), 0), COALESCE(SUM(unexpected), 0), COALESCE(SUM(duplicate), 0), COALESCE(SUM(invalid), 0) FROM reconciliations WHERE created_at >= ? AND created_at < ?",
	[Q_TAX_THRESHOLD_GET] = "SELECT amount, currency FROM tax_thresholds WHERE country = ?",
	[Q_TAX_THRESHOLD_SET] = "INSERT INTO tax_thresholds (country, amount, currency, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (country) DO UPDATE SET amount = excluded.amount, currency = excluded.currency, updated_at = excluded.updated_at",
	[Q_TAX_THRESHOLD_DELETE] = "DELETE FROM tax_thresholds WHERE country = ?",
	[Q_TAX_THRESHOLD_LIST] = "SELECT country, amount, currency, updated_at FROM tax_thresholds ORDER BY country",
	[Q_TAX_TYPE_REPORTABLE] = "SELECT 1 FROM tax_reportable_types WHERE type = ?",
	[Q_TAX_TYPES_LIST] = "SELECT type FROM tax_reportable_types ORDER BY type",
	[Q_TAX_TYPES_CLEAR] = "DELETE FROM tax_reportable_types",
	[Q_TAX_TYPE_ADD] = "INSERT INTO tax_reportable_types (type) VALUES (?) ON CONFLICT (type) DO NOTHING",
	[Q_TAX_PARTICIPANT] = "SELECT COALESCE(country, ''), tax_form FROM participants WHERE id = ?",
	[Q_TAX_YEAR_TOTALS] = "SELECT COALESCE(currency, ''), COALESCE(SUM(amount), 0) FROM rewards WHERE participant = ?1 AND id <> ?2 AND amount IS NOT NULL AND type IN (SELECT type FROM tax_reportable_types) AND status NOT IN ('cancelled', 'reversed', 'expired') AND (fulfilled_at IS NULL OR (fulfilled_at >= ?3 AND fulfilled_at < ?4)) GROUP BY currency ORDER BY 1",
	[Q_TAX_REPORT] = "SELECT participant, COALESCE(currency, ''), COALESCE(SUM(amount), 0), COUNT(*) FROM rewards WHERE amount IS NOT NULL AND type IN (SELECT type FROM tax_reportable_types) AND status IN ('fulfilled', 'reconciled') AND fulfilled_at >= ? AND fulfilled_at < ? GROUP BY currency, participant ORDER BY participant, 2",
	[Q_FX_DELETE_REPORTING] = "DELETE FROM fx_rates WHERE reporting = ?",
	[Q_FX_UPSERT] = "INSERT INTO fx_rates (currency, reporting, rate, rate_units, rate_scale, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (currency, reporting) DO UPDATE SET rate = excluded.rate, rate_units = excluded.rate_units, rate_scale = excluded.rate_scale, updated_at = excluded.updated_at",
	[Q_FX_GET] = "SELECT rate_units, rate_scale FROM fx_rates WHERE currency = ? AND reporting = ?",
	[Q_FX_LIST] = "SELECT currency, reporting, rate, updated_at FROM fx_rates ORDER BY reporting, currency",
	[Q_META_GET] = "SELECT value FROM meta WHERE key = ?",
	[Q_META_SET] = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[Q_META_ADD] = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
	[Q_META_ADVANCE] = "UPDATE meta SET value = ?2 WHERE key = ?1 AND value <> ?2",
	/* once a year (tax_holds_recheck): reads the partial index rewards_pending */
	[Q_REWARDS_TAX_HELD] = "SELECT id FROM rewards WHERE status = 'pending' AND reason = 'tax_form_required' ORDER BY seq",
	/* engine.c: one value sealed with the master key, to tell which key a database that has
	 * no master_key_id yet was used with: the first participant with an e-mail or a name,
	 * else the first e-mail on the blocklist, else the first of the other sealed values (a
	 * webhook endpoint's or a connector's secret, an e-mail, a stored response, a
	 * participant or referral event's body: sealed ones only, "v1:", crypto_seal), so that
	 * a database whose participants carry no e-mail or name does not take any key; NULL
	 * when there is none. COALESCE runs a subquery only when the ones before it found
	 * nothing (SQLite and PostgreSQL alike). */
	[Q_SEALED_SAMPLE] = "SELECT COALESCE((SELECT COALESCE(email_enc, name_enc) FROM participants WHERE email_enc IS NOT NULL OR name_enc IS NOT NULL LIMIT 1), (SELECT value_enc FROM blocklist WHERE value_enc IS NOT NULL LIMIT 1), (SELECT secret FROM webhook_endpoints WHERE secret LIKE 'v1:%' LIMIT 1), (SELECT secrets FROM connectors WHERE secrets LIKE 'v1:%' LIMIT 1), (SELECT message FROM notifications WHERE message LIKE 'v1:%' LIMIT 1), (SELECT body FROM idempotency WHERE body LIKE 'v1:%' LIMIT 1), (SELECT body FROM events WHERE (type = 'participant' OR type = 'referral') AND body LIKE 'v1:%' LIMIT 1))",
	[Q_FEE_SET] = "INSERT INTO connector_fees (connector, currency, fixed_amount, percent_bp, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (connector, currency) DO UPDATE SET fixed_amount = excluded.fixed_amount, percent_bp = excluded.percent_bp, updated_at = excluded.updated_at",
	[Q_FEE_DELETE] = "DELETE FROM connector_fees WHERE connector = ? AND currency = ?",
	[Q_FEE_GET] = "SELECT fixed_amount, percent_bp FROM connector_fees WHERE connector = ? AND currency = ?",
	[Q_FEE_LIST] = "SELECT connector, currency, fixed_amount, percent_bp, updated_at FROM connector_fees ORDER BY connector, currency",
	[Q_REPORT_EARNED_DAILY] = "SELECT created_at / 86400000, currency, COUNT(*), COALESCE(SUM(amount), 0) FROM rewards WHERE created_at >= ? AND created_at < ? AND currency IS NOT NULL AND status NOT IN ('cancelled', 'reversed', 'expired') GROUP BY 1, 2 ORDER BY 1, 2",
	[Q_REPORT_PAID_DAILY] = "SELECT fulfilled_at / 86400000, currency, COUNT(*), COALESCE(SUM(amount), 0), COALESCE(SUM(CASE WHEN status = 'reconciled' THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN status = 'reconciled' THEN amount ELSE 0 END), 0) FROM rewards WHERE status IN ('fulfilled', 'reconciled') AND fulfilled_at >= ? AND fulfilled_at < ? AND currency IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
	[Q_REPORT_AGING] = "SELECT status, COALESCE(reason, ''), (CAST(?1 AS BIGINT) - created_at) / 86400000, COALESCE(currency, ''), COUNT(*), COALESCE(SUM(amount), 0) FROM rewards WHERE (status = 'pending' OR status = 'approved') GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
	[Q_REPORT_CREDIT_STATUS] = "SELECT participant, fulfiller, COALESCE(currency, ''), CASE WHEN status = 'approved' AND batch IS NOT NULL THEN 'in_batch' WHEN status IN ('pending', 'review', 'approved') THEN 'new' ELSE status END, COUNT(*), COALESCE(SUM(amount), 0) FROM rewards WHERE status IN ('pending', 'review', 'approved', 'fulfilled', 'reconciled') AND (CAST(?1 AS TEXT) IS NULL OR fulfiller = ?1) AND (CAST(?2 AS TEXT) IS NULL OR participant = ?2) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
	[Q_REPORT_CYCLE_COUNT] = "SELECT COUNT(*) FROM rewards w JOIN conversions c ON c.id = w.conversion WHERE w.status IN ('fulfilled', 'reconciled') AND w.fulfilled_at >= ? AND w.fulfilled_at < ?",
	[Q_REPORT_CYCLE_AT] = "SELECT w.fulfilled_at - c.occurred_at FROM rewards w JOIN conversions c ON c.id = w.conversion WHERE w.status IN ('fulfilled', 'reconciled') AND w.fulfilled_at >= ? AND w.fulfilled_at < ? ORDER BY 1 LIMIT 1 OFFSET ?",
	[Q_REPORT_PAYOUTS_BY_CONNECTOR] = "SELECT connector, COALESCE(currency, ''), COUNT(*), COALESCE(SUM(amount), 0) FROM rewards WHERE status IN ('fulfilled', 'reconciled') AND fulfilled_at >= ? AND fulfilled_at < ? GROUP BY 1, 2 ORDER BY 1, 2",
	[Q_REPORT_FAILED_COUNT] = "SELECT COUNT(*) FROM rewards WHERE status = 'failed'",
	[Q_BATCH_FULFILLED_NOW] = "SELECT id FROM rewards WHERE batch = ? AND status = 'fulfilled' AND updated_at = ? AND seq >= ? AND seq <= ? ORDER BY seq",
	[Q_REWARD_STATUS_COUNTS] = "SELECT status, COUNT(*) FROM rewards GROUP BY status ORDER BY status",
	[Q_WORKER_REVERSIBLE] = "SELECT id FROM rewards WHERE status = 'reversed' AND connector NOT IN ('ledger', 'manual') AND (reversal IS NULL OR (reversal = 'pending' AND sync_at <= ?1)) ORDER BY seq LIMIT ?2@LOCK@",
	[Q_REWARD_REVERSAL_SET] = "UPDATE rewards SET reversal = ?1, sync_at = ?2 WHERE id = ?3",
	[Q_REWARD_REVERSAL_ATTEMPT] = "UPDATE rewards SET reversal_attempts = reversal_attempts + 1 WHERE id = ?",
	[Q_REWARD_REVERSAL_ATTEMPTS] = "SELECT reversal_attempts FROM rewards WHERE id = ?",
	[Q_CODE_VOID_REWARD] = "UPDATE codes SET status = 'void' WHERE reward = ? AND status = 'assigned'",
	[Q_WORKER_RECOVERABLE] = "SELECT id FROM rewards WHERE status = 'issuing' AND updated_at < ? ORDER BY seq LIMIT ?@LOCK@",
	/* queues.c: approved, issuing, pending webhook deliveries, pending e-mails (each an index range count) */
	[Q_QUEUE_DEPTHS] = "SELECT (SELECT COUNT(*) FROM rewards WHERE status = 'approved'), (SELECT COUNT(*) FROM rewards WHERE status = 'issuing'), (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'), (SELECT COUNT(*) FROM notifications WHERE status = 'pending')",
	/* governance.c, master key rotation: the values sealed with the master key beside
	 * participants and the blocklist, each walked in primary-key order after a cursor
	 * (the SELECT's first columns; then the sealed value and a name for errors). The
	 * UPDATE takes the new sealed value, the old one and the cursor: it changes nothing
	 * when a writer replaced the value meanwhile (which that writer sealed itself). */
	[Q_ROTATE_EVENTS] = "SELECT seq, body, id FROM events WHERE seq > ?1 AND (type = 'participant' OR type = 'referral') ORDER BY seq LIMIT ?2",
	[Q_ROTATE_EVENT_SET] = "UPDATE events SET body = ?1 WHERE seq = ?3 AND body = ?2",
	[Q_ROTATE_NOTIFICATIONS] = "SELECT seq, message, id FROM notifications WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[Q_ROTATE_NOTIFICATION_SET] = "UPDATE notifications SET message = ?1 WHERE seq = ?3 AND message = ?2",
	[Q_ROTATE_IDEMPOTENCY] = "SELECT scope, key, body, key FROM idempotency WHERE (scope, key) > (?1, ?2) ORDER BY scope, key LIMIT ?3",
	[Q_ROTATE_IDEMPOTENCY_SET] = "UPDATE idempotency SET body = ?1 WHERE scope = ?3 AND key = ?4 AND body = ?2",
	[Q_ROTATE_CONNECTORS] = "SELECT id, secrets, id FROM connectors WHERE id > ?1 AND secrets IS NOT NULL ORDER BY id LIMIT ?2",
	[Q_ROTATE_CONNECTOR_SET] = "UPDATE connectors SET secrets = ?1 WHERE id = ?3 AND secrets = ?2",
	[Q_ROTATE_WH_ENDPOINTS] = "SELECT id, secret, id FROM webhook_endpoints WHERE id > ?1 ORDER BY id LIMIT ?2",
	[Q_ROTATE_WH_ENDPOINT_SET] = "UPDATE webhook_endpoints SET secret = ?1 WHERE id = ?3 AND secret = ?2",
};
