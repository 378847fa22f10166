/*
 * ledger.c - the internal double-entry credit ledger (SPEC §5, `ledger` connector).
 *
 * Every movement is a journal of two postings that sum to zero, per currency.
 * Accounts: "participant:<id>" (what a participant holds), "program:<id>" (the
 * program's funding: it goes negative as it grants credit), "redemptions", "expired".
 * A participant's positive balance is made of lots, one per fulfilled reward, each with
 * its own expiry; redeem consumes soonest-expiring lots first. A clawback may take the
 * balance below zero (the participant owes it); new credit then first pays the debt.
 * Invariants (checked by engine_ledger_verify after every test scenario):
 *   1. per currency, all postings sum to zero;
 *   2. every balance row equals the sum of its account's postings;
 *   3. for a participant, the lots' remaining amounts sum to max(balance, 0);
 *   4. 0 <= lot.remaining <= lot.amount.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/crypto.h"
#include "fulfill/money.h"

static void account_name(char *out, size_t n, const char *kind, const char *id)
{
	snprintf(out, n, "%s:%s", kind, id);
}

/* A balance change of a deferring transaction (core_defer), written at its end. */
struct balance_pending {
	char account[ID_MAX + 16];
	char currency[8];
	int64_t delta;
};

static struct balance_pending *pending_of(struct engine *e, const char *account, const char *currency, bool add)
{
	for (size_t i = 0; i < e->balance_npending; i++) {
		struct balance_pending *b = &e->balance_pending[i];
		if (!strcmp(b->account, account) && !strcmp(b->currency, currency))
			return b;
	}
	if (!add)
		return NULL;
	if (e->balance_npending == e->balance_cap) {
		e->balance_cap = e->balance_cap ? 2 * e->balance_cap : 64;
		e->balance_pending = ff_realloc(e->balance_pending, e->balance_cap * sizeof(*e->balance_pending));
	}
	struct balance_pending *b = &e->balance_pending[e->balance_npending++];
	copy_str(b->account, sizeof(b->account), account);
	copy_str(b->currency, sizeof(b->currency), currency);
	b->delta = 0;
	return b;
}

static enum ff_err balance_add(struct engine *e, const char *account, const char *currency, int64_t amount,
			       struct ff_diag *d)
{
	if (e->defer) {
		pending_of(e, account, currency, true)->delta += amount;
		return FF_OK;
	}
	struct store_stmt *st = store_query(e->st, Q_LEDGER_BALANCE_ADD);
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, currency);
	store_bind_int(st, 3, amount);
	if (store_exec_ahead(st))
		return core_store_fail(e, d, "ledger balance");
	return FF_OK;
}

static int pending_cmp(const void *a, const void *b)
{
	const struct balance_pending *x = a, *y = b;
	int c = strcmp(x->account, y->account);
	return c ? c : strcmp(x->currency, y->currency);
}

enum ff_err ledger_flush_deferred(struct engine *e, struct ff_diag *d)
{
	if (e->balance_npending > 1)
		qsort(e->balance_pending, e->balance_npending, sizeof(*e->balance_pending), pending_cmp);
	bool defer = e->defer;
	e->defer = false;
	enum ff_err err = FF_OK;
	for (size_t i = 0; i < e->balance_npending && !err; i++) {
		struct balance_pending *b = &e->balance_pending[i];
		err = balance_add(e, b->account, b->currency, b->delta, d);
	}
	e->defer = defer;
	e->balance_npending = 0;
	return err;
}

void ledger_drop_deferred(struct engine *e)
{
	e->balance_npending = 0;
}

static enum ff_err posting(struct engine *e, const char *journal, const char *account, const char *currency,
			   int64_t amount, const char *kind, const char *reward, int64_t now, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_LEDGER_ENTRY_INSERT);
	store_bind_text(st, 1, journal);
	store_bind_text(st, 2, account);
	store_bind_text(st, 3, currency);
	store_bind_int(st, 4, amount);
	store_bind_text(st, 5, kind);
	store_bind_text(st, 6, reward);
	store_bind_int(st, 7, now);
	if (store_exec_ahead(st))
		return core_store_fail(e, d, "ledger entry");
	return balance_add(e, account, currency, amount, d);
}

/* Move `amount` from one account to another: one journal, two postings. */
static enum ff_err transfer(struct engine *e, const char *from, const char *to, const char *currency, int64_t amount,
			    const char *kind, const char *reward, int64_t now, struct ff_diag *d)
{
	char journal[40];
	crypto_random_id("jrn", journal, sizeof(journal));
	enum ff_err err = posting(e, journal, from, currency, -amount, kind, reward, now, d);
	if (!err)
		err = posting(e, journal, to, currency, amount, kind, reward, now, d);
	return err;
}

static int64_t balance_read(struct engine *e, const char *participant, const char *currency, enum store_query q)
{
	char acct[ID_MAX + 16];
	account_name(acct, sizeof(acct), "participant", participant);
	struct store_stmt *st = store_query(e->st, q);
	store_bind_text(st, 1, acct);
	store_bind_text(st, 2, currency);
	int64_t bal = store_step(st) == 1 ? store_col_int(st, 0) : 0;
	/* what this transaction changed and has not written yet (core_defer) */
	const struct balance_pending *b = e->defer ? pending_of(e, acct, currency, false) : NULL;
	return bal + (b ? b->delta : 0);
}

int64_t ledger_balance(struct engine *e, const char *participant, const char *currency)
{
	return balance_read(e, participant, currency, Q_LEDGER_BALANCE_GET);
}

/*
 * The balance, with the participant's balance row locked until the transaction ends
 * (PostgreSQL; SQLite's write transactions hold the whole database). Every change that
 * depends on the balance or the lots - a credit that first pays a debt, a clawback,
 * an expiry, a redemption - takes it first, so that two transactions cannot both act
 * on the same balance (two redemptions passing the same check, a worker's credit
 * missing a debt a refund committed meanwhile). A worker chunk holds it until its
 * commit, where its deferred balance change is written.
 */
static int64_t balance_locked(struct engine *e, const char *participant, const char *currency)
{
	return balance_read(e, participant, currency, Q_LEDGER_BALANCE_LOCK);
}

struct balance_key {
	char account[ID_MAX + 16];
	char currency[8];
};

static int balance_key_cmp(const void *a, const void *b)
{
	const struct balance_key *x = a, *y = b;
	int c = strcmp(x->account, y->account);
	return c ? c : strcmp(x->currency, y->currency);
}

static const char *ledger_currency(const struct reward *r);

enum ff_err ledger_lock_balances(struct engine *e, const struct reward *rewards, size_t n, struct ff_diag *d)
{
	if (store_kind(e->st) != STORE_PG || n == 0)
		return FF_OK;
	struct balance_key *keys = ff_malloc(n * sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		account_name(keys[i].account, sizeof(keys[i].account), "participant", rewards[i].participant);
		copy_str(keys[i].currency, sizeof(keys[i].currency), ledger_currency(&rewards[i]));
	}
	qsort(keys, n, sizeof(*keys), balance_key_cmp);
	enum ff_err err = FF_OK;
	for (size_t i = 0; i < n && !err; i++) {
		if (i && !balance_key_cmp(&keys[i], &keys[i - 1]))
			continue;
		/* sent ahead: the locks are taken in this order, the answers not needed */
		struct store_stmt *st = store_query(e->st, Q_LEDGER_BALANCE_LOCK);
		store_bind_text(st, 1, keys[i].account);
		store_bind_text(st, 2, keys[i].currency);
		if (store_exec_ahead(st))
			err = core_store_fail(e, d, "balance locks");
	}
	free(keys);
	return err;
}

int64_t ledger_lot_remaining(struct engine *e, const char *reward)
{
	struct store_stmt *st = store_query(e->st, Q_LOT_GET);
	store_bind_text(st, 1, reward);
	return store_step(st) == 1 ? store_col_int(st, 1) : 0;
}

static const char *ledger_currency(const struct reward *r)
{
	return !strcmp(r->type, "points") ? "POINT" : r->currency;
}

enum ff_err ledger_credit(struct engine *e, const struct reward *r, int64_t now, struct ff_diag *d)
{
	const char *cur = ledger_currency(r);
	int64_t bal = balance_locked(e, r->participant, cur);
	int64_t owed = bal < 0 ? -bal : 0;
	int64_t remaining = r->amount - (owed < r->amount ? owed : r->amount);
	char from[ID_MAX + 16], to[ID_MAX + 16];
	account_name(from, sizeof(from), "program", r->program);
	account_name(to, sizeof(to), "participant", r->participant);
	enum ff_err err = transfer(e, from, to, cur, r->amount, "credit", r->id, now, d);
	if (err)
		return err;
	struct store_stmt *st = store_query(e->st, Q_LOT_INSERT);
	store_bind_text(st, 1, r->id);
	store_bind_text(st, 2, r->participant);
	store_bind_text(st, 3, cur);
	store_bind_int(st, 4, r->amount);
	store_bind_int(st, 5, remaining);
	store_bind_int_or_null(st, 6, r->expires_at, !r->has_expires);
	store_bind_int(st, 7, now);
	if (store_exec_ahead(st))
		return core_store_fail(e, d, "ledger lot");
	return FF_OK;
}

/* Take up to `amount` from the participant's lots, `first` (a reward id) first, then
 * soonest-expiring; with `valid_at` (> 0) only lots not expired at that time (a
 * redemption never spends credit past its expiry, even before the worker expired it).
 * Returns what was taken. */
static int64_t consume_lots(struct engine *e, const char *participant, const char *currency, const char *first,
			    int64_t amount, int64_t valid_at, bool *failed)
{
	int64_t taken = 0;
	*failed = false;
	if (first) {
		struct store_stmt *st = store_query(e->st, Q_LOT_GET);
		store_bind_text(st, 1, first);
		if (store_step(st) == 1) {
			int64_t rem = store_col_int(st, 1);
			int64_t x = rem < amount ? rem : amount;
			if (x > 0) {
				st = store_query(e->st, Q_LOT_TAKE);
				store_bind_int(st, 1, x);
				store_bind_text(st, 2, first);
				if (store_exec(st)) {
					*failed = true;
					return 0;
				}
				taken += x;
			}
		}
	}
	while (taken < amount) {
		/* one lot at a time: the statement is re-run after each update, so no
		 * cursor stays open over rows being changed */
		struct store_stmt *st = store_query(e->st, valid_at > 0 ? Q_LOT_NEXT_VALID : Q_LOT_NEXT_OPEN);
		store_bind_text(st, 1, participant);
		store_bind_text(st, 2, currency);
		if (valid_at > 0)
			store_bind_int(st, 3, valid_at);
		if (store_step(st) != 1)
			break;
		char reward[40];
		copy_str(reward, sizeof(reward), store_col_text(st, 0));
		int64_t rem = store_col_int(st, 1);
		int64_t x = rem < amount - taken ? rem : amount - taken;
		st = store_query(e->st, Q_LOT_TAKE);
		store_bind_int(st, 1, x);
		store_bind_text(st, 2, reward);
		if (store_exec(st)) {
			*failed = true;
			return taken;
		}
		taken += x;
	}
	return taken;
}

enum ff_err ledger_clawback(struct engine *e, const struct reward *r, int64_t amount, int64_t now,
			    struct ff_diag *d)
{
	if (amount <= 0)
		return FF_OK;
	const char *cur = ledger_currency(r);
	balance_locked(e, r->participant, cur); /* the lock, before the lots */
	bool failed;
	consume_lots(e, r->participant, cur, r->id, amount, 0, &failed);
	if (failed)
		return core_store_fail(e, d, "ledger lots");
	char from[ID_MAX + 16], to[ID_MAX + 16];
	account_name(from, sizeof(from), "participant", r->participant);
	account_name(to, sizeof(to), "program", r->program);
	return transfer(e, from, to, cur, amount, "clawback", r->id, now, d);
}

enum ff_err ledger_expire(struct engine *e, const struct reward *r, int64_t now, int64_t *out_amount,
			  struct ff_diag *d)
{
	*out_amount = 0;
	const char *cur = ledger_currency(r);
	int64_t bal = balance_locked(e, r->participant, cur);
	int64_t rem = ledger_lot_remaining(e, r->id);
	/* never take more than the balance holds: a debt already consumed the lot */
	if (rem > bal)
		rem = bal > 0 ? bal : 0;
	if (rem <= 0)
		return FF_OK;
	struct store_stmt *st = store_query(e->st, Q_LOT_TAKE);
	store_bind_int(st, 1, rem);
	store_bind_text(st, 2, r->id);
	if (store_exec(st))
		return core_store_fail(e, d, "ledger lot");
	char from[ID_MAX + 16];
	account_name(from, sizeof(from), "participant", r->participant);
	*out_amount = rem;
	return transfer(e, from, "expired", cur, rem, "expiry", r->id, now, d);
}

/* One redemption in its own transaction (a savepoint under the caller's). */
static enum ff_err redeem(struct engine *e, const struct actor *a, const char *id, int64_t amount,
			  const char *currency, struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return err;
	int64_t now = fftime_now();
	if (participant_blocked(e, id)) { /* no money moves to it (block.c) */
		err = ff_fail(d, FF_E_PARTICIPANT_BLOCKED, NULL,
			      "participant %s is blocked: its balance cannot be redeemed until it is unblocked", id);
		goto end;
	}
	int64_t bal = balance_locked(e, id, currency);
	if (bal < amount) {
		err = ff_fail(d, FF_E_INSUFFICIENT_BALANCE, "amount", "balance %lld %s is less than %lld",
			      (long long)bal, currency, (long long)amount);
		goto end;
	}
	/* credit past its expires_at is not spendable, though the worker may not have
	 * posted its expiry yet (the balance still holds it until then) */
	struct store_stmt *st = store_query(e->st, Q_LOT_VALID_TOTAL);
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, currency);
	store_bind_int(st, 3, now);
	int64_t valid = store_step(st) == 1 ? store_col_int(st, 0) : 0;
	if (valid < amount) {
		err = ff_fail(d, FF_E_INSUFFICIENT_BALANCE, "amount",
			      "balance %lld %s holds %lld not expired, less than %lld", (long long)bal, currency,
			      (long long)valid, (long long)amount);
		goto end;
	}
	bool failed;
	int64_t taken = consume_lots(e, id, currency, NULL, amount, now, &failed);
	if (failed || taken != amount) {
		err = failed ? core_store_fail(e, d, "ledger lots")
			     : ff_fail(d, FF_E_INTERNAL, NULL, "ledger lots hold %lld, balance %lld", (long long)taken,
				       (long long)bal);
		goto end;
	}
	char from[ID_MAX + 16];
	account_name(from, sizeof(from), "participant", id);
	err = transfer(e, from, "redemptions", currency, amount, "redeem", NULL, now, d);
	if (!err) {
		json_t *detail = json_pack("{s:I, s:s}", "amount", (json_int_t)amount, "currency", currency);
		err = audit_append(e, a->label, "participant.redeemed", id, detail, d);
		json_decref(detail);
	}
end:
	return core_end(e, err, d);
}

enum ff_err engine_participant_redeem(struct engine *e, const struct actor *a, const char *id, int64_t amount,
				      const char *currency, json_t **out, struct ff_diag *d)
{
	if ((a->participant[0] && strcmp(a->participant, id)) || !participant_exists(e, id))
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no participant %s", id));
	if (!currency || !money_currency_valid(currency))
		return core_done(e, ff_fail(d, FF_E_INVALID_CURRENCY, "currency", "unknown currency \"%s\"",
					    currency ? currency : ""));
	if (amount <= 0 || amount > MONEY_MAX)
		return core_done(e, ff_fail(d, FF_E_INVALID_AMOUNT, "amount",
					    "amount must be a positive integer of minor units"));
	/* PostgreSQL: the balance row is locked first and the audit chain last, while an
	 * ingest's clawback takes the chain first and then the balance; when both meet, one
	 * of them is chosen as the deadlock's victim. A lost race left nothing behind (the
	 * transaction or savepoint was rolled back, releasing its locks): it runs again and
	 * checks the balance anew, like an ingest or a worker chunk would. */
	enum ff_err err;
	for (int tries = 0;; tries++) {
		err = redeem(e, a, id, amount, currency, d);
		if (!err || !core_retryable(e, err) || tries >= CORE_TX_RETRIES)
			break;
		core_retry_pause(tries);
	}
	if (!err)
		*out = json_pack("{s:s, s:s, s:I, s:s, s:I}", "object", "redemption", "participant", id, "amount",
				 (json_int_t)amount, "currency", currency, "balance",
				 (json_int_t)ledger_balance(e, id, currency));
	return core_done(e, err);
}

enum ff_err engine_ledger_verify(struct engine *e, struct ff_diag *d)
{
	enum ff_err err = FF_OK;
	struct store_stmt *st = store_query(e->st, Q_LEDGER_CHECK_ZERO);
	if (store_step(st) == 1) {
		err = ff_fail(d, FF_E_INTERNAL, NULL, "postings in %s sum to %lld, not zero", store_col_text(st, 0),
			      (long long)store_col_int(st, 1));
		goto out;
	}
	st = store_query(e->st, Q_LEDGER_CHECK_BALANCES);
	if (store_step(st) == 1) {
		err = ff_fail(d, FF_E_INTERNAL, NULL, "balance of %s in %s is %lld but its postings sum to %lld",
			      store_col_text(st, 0), store_col_text(st, 1), (long long)store_col_int(st, 2),
			      (long long)store_col_int(st, 3));
		goto out;
	}
	st = store_query(e->st, Q_LEDGER_CHECK_LOTS);
	if (store_step(st) == 1) {
		err = ff_fail(d, FF_E_INTERNAL, NULL, "lots of %s in %s hold %lld but the balance is %lld",
			      store_col_text(st, 0), store_col_text(st, 1), (long long)store_col_int(st, 3),
			      (long long)store_col_int(st, 2));
		goto out;
	}
	st = store_query(e->st, Q_LEDGER_CHECK_LOT_RANGE);
	if (store_step(st) == 1)
		err = ff_fail(d, FF_E_INTERNAL, NULL, "lot of reward %s has remaining %lld outside 0..%lld",
			      store_col_text(st, 0), (long long)store_col_int(st, 1), (long long)store_col_int(st, 2));
out:
	return core_done(e, err);
}
