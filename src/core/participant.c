/*
 * participant.c - participants (PII encrypted at rest, looked up by keyed hash),
 * their referrals, conversions, stats and balances, tax forms, and the participants
 * report. Ingest creates and updates participants through participant_upsert().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/jsonw.h"
#include "core/ingest.h"
#include "fulfill/crypto.h"
#include "fulfill/money.h"

void email_normalize(const char *in, char *out, size_t n)
{
	char local[320] = "", domain[256] = "";
	const char *at = strrchr(in, '@');
	size_t ll = at ? (size_t)(at - in) : strlen(in);
	if (ll >= sizeof(local))
		ll = sizeof(local) - 1;
	for (size_t i = 0; i < ll; i++)
		local[i] = (char)tolower((unsigned char)in[i]);
	local[ll] = '\0';
	if (at) {
		size_t dl = 0;
		for (const char *p = at + 1; *p && dl < sizeof(domain) - 1; p++)
			domain[dl++] = (char)tolower((unsigned char)*p);
		domain[dl] = '\0';
	}
	char *plus = strchr(local, '+');
	if (plus)
		*plus = '\0';
	if (!strcmp(domain, "gmail.com") || !strcmp(domain, "googlemail.com")) {
		char *w = local;
		for (char *r = local; *r; r++)
			if (*r != '.')
				*w++ = *r;
		*w = '\0';
		copy_str(domain, sizeof(domain), "gmail.com");
	}
	snprintf(out, n, "%s@%s", local, domain);
}

void email_hash_with(const uint8_t key[FF_MASTER_KEY_BYTES], const char *email, char out[65])
{
	char norm[600];
	email_normalize(email, norm, sizeof(norm));
	crypto_keyed_hash_hex(key, norm, strlen(norm), out);
}

void participant_email_hash(struct engine *e, const char *email, char out[65])
{
	email_hash_with(e->cfg.master_key, email, out);
}

/* The cache holds [context, fraud row] per id (load_context()). */
static json_t *cached_entry(struct engine *e, const char *id)
{
	return core_tx_cached(e, e->participants_gen) ? json_object_get(e->participants, id) : NULL;
}

/* The cached context of `id` in this transaction, or NULL. Borrowed. */
static json_t *cached_context(struct engine *e, const char *id)
{
	json_t *v = cached_entry(e, id);
	return v ? json_array_get(v, 0) : NULL;
}

json_t *participant_cached_row(struct engine *e, const char *id)
{
	json_t *v = cached_entry(e, id);
	return v ? json_array_get(v, 1) : NULL;
}

static json_t *load_context(struct engine *e, const char *id);

bool participant_exists(struct engine *e, const char *id)
{
	if (store_depth(e->st) > 0) {
		/* inside a transaction the context is read instead, and kept for
		 * participant_context() (ingest asks for it next) */
		if (cached_context(e, id))
			return true;
		json_t *ctx = load_context(e, id);
		json_decref(ctx);
		return ctx != NULL;
	}
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_EXISTS);
	store_bind_text(st, 1, id);
	return store_step(st) == 1;
}

bool participant_find_by_email(struct engine *e, const char *email, char *out_id, size_t n)
{
	char h[65];
	participant_email_hash(e, email, h);
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_BY_EMAIL);
	store_bind_text(st, 1, h);
	if (store_step(st) != 1)
		return false;
	copy_str(out_id, n, store_col_text(st, 0));
	return true;
}

/* Append `v` to the JSON array text `arr` unless present; keeps the 20 newest. */
static char *seen_add(const char *arr, const char *v)
{
	json_t *a = json_from_text(arr, "[]");
	if (!json_is_array(a)) {
		json_decref(a);
		a = json_array();
	}
	bool found = false;
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x) if (json_is_string(x) && !strcmp(json_string_value(x), v)) found = true;
	if (!found) {
		json_array_append_new(a, json_string(v));
		while (json_array_size(a) > 20)
			json_array_remove(a, 0);
	}
	char *s = jsonw_dumps(a, false);
	json_decref(a);
	return s;
}

/* A tax form arrived (through the tax-form call or a participant event): the rewards
 * that waited for it go on their way (SPEC §8). */
static enum ff_err release_tax_held(struct engine *e, const char *id, const char *actor, int64_t now,
				    struct ff_diag *d)
{
	json_t *ids = core_texts_of(e, Q_REWARDS_WAITING_TAX_FORM, id);
	enum ff_err err = FF_OK;
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		struct reward r;
		if ((err = reward_load(e, json_string_value(v), &r, d)) || (err = tax_release(e, &r, actor, now, d)))
			break;
	}
	json_decref(ids);
	return err;
}

enum ff_err participant_upsert(struct engine *e, const struct participant_in *in, const char *actor, int64_t now,
			       struct ff_diag *d)
{
	/* Writers of a participant take turns on the audit chain's lock before reading
	 * the row (ingest holds it already): the row is read, merged and written back
	 * whole, so on PostgreSQL a writer that read it before another committed would
	 * put the other's fields back (a tax form posted while an event changed the
	 * attributes). Every upsert appends to the chain anyway. */
	if (store_lock_chain(e->st))
		return core_store_fail(e, d, "audit lock");
	/* read what exists so unspecified fields keep their values */
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_ROW);
	store_bind_text(st, 1, in->id);
	bool exists = store_step(st) == 1;
	char *email_enc = NULL, *name_enc = NULL;
	char email_hash[65] = "";
	char country[8] = "", currency[8] = "", status[16] = "active", tax_form[16] = "none";
	char *attributes = NULL, *devices = NULL, *ips = NULL;
	if (exists) {
		email_enc = ff_strdup(store_col_text(st, 0));
		copy_str(email_hash, sizeof(email_hash), store_col_text(st, 1));
		name_enc = ff_strdup(store_col_text(st, 2));
		copy_str(country, sizeof(country), store_col_text(st, 3));
		copy_str(currency, sizeof(currency), store_col_text(st, 4));
		copy_str(status, sizeof(status), store_col_text(st, 5));
		copy_str(tax_form, sizeof(tax_form), store_col_text(st, 6));
		attributes = ff_strdup(store_col_text(st, 7));
		devices = ff_strdup(store_col_text(st, 8));
		ips = ff_strdup(store_col_text(st, 9));
	}
	if (in->email) {
		free(email_enc);
		email_enc = crypto_seal(e->cfg.master_key, in->email);
		participant_email_hash(e, in->email, email_hash);
	}
	if (in->name) {
		free(name_enc);
		name_enc = crypto_seal(e->cfg.master_key, in->name);
	}
	if (in->country)
		copy_str(country, sizeof(country), in->country);
	if (in->currency)
		copy_str(currency, sizeof(currency), in->currency);
	/* becoming blocked holds its rewards for review below (block.c): read from the row
	 * read anyway, so other upserts pay nothing for it */
	bool blocks = in->status && !strcmp(in->status, "blocked") && strcmp(status, "blocked");
	bool status_changed = exists && in->status && strcmp(in->status, status);
	if (in->status)
		copy_str(status, sizeof(status), in->status);
	bool was_none = !strcmp(tax_form, "none");
	if (in->tax_form)
		copy_str(tax_form, sizeof(tax_form), in->tax_form);
	if (in->attributes) {
		/* attributes merge key by key; a null value removes a key */
		json_t *cur = json_from_text(attributes, "{}");
		if (!json_is_object(cur)) {
			json_decref(cur);
			cur = json_object();
		}
		const char *k;
		json_t *v;
		json_object_foreach(in->attributes, k, v)
		{
			if (json_is_null(v))
				json_object_del(cur, k);
			else
				json_object_set(cur, k, v);
		}
		free(attributes);
		attributes = jsonw_dumps(cur, true);
		json_decref(cur);
	}
	if (in->device_id) {
		char *n = seen_add(devices, in->device_id);
		free(devices);
		devices = n;
	}
	if (in->ip) {
		char *n = seen_add(ips, in->ip);
		free(ips);
		ips = n;
	}
	st = store_query(e->st, Q_PARTICIPANT_UPSERT);
	store_bind_text(st, 1, in->id);
	store_bind_text(st, 2, email_enc);
	store_bind_text(st, 3, email_hash[0] ? email_hash : NULL);
	store_bind_text(st, 4, name_enc);
	store_bind_text(st, 5, country[0] ? country : NULL);
	store_bind_text(st, 6, currency[0] ? currency : NULL);
	store_bind_text(st, 7, status);
	store_bind_text(st, 8, tax_form);
	store_bind_text(st, 9, attributes ? attributes : "{}");
	store_bind_text(st, 10, devices ? devices : "[]");
	store_bind_text(st, 11, ips ? ips : "[]");
	store_bind_int(st, 12, now);
	store_bind_text(st, 13, e->key_id);
	enum ff_err err = store_exec_ahead(st) ? core_store_fail(e, d, "participant") : FF_OK;
	free(email_enc);
	free(name_enc);
	free(attributes);
	free(devices);
	free(ips);
	participant_cache_drop(e, in->id);
	int64_t held = 0;
	if (!err && blocks && exists)
		err = participant_hold_rewards(e, in->id, actor, &held, d);
	if (!err) {
		/* the audit detail names fields, never PII values */
		json_t *fields = json_array();
		if (in->email)
			json_array_append_new(fields, json_string("email"));
		if (in->name)
			json_array_append_new(fields, json_string("name"));
		if (in->status)
			json_array_append_new(fields, json_string("status"));
		json_t *detail = json_pack("{s:b, s:o}", "created", !exists, "fields", fields);
		if (status_changed) /* blocked or unblocked, by whom: the record's actor */
			json_object_set_new(detail, "status", json_string(status));
		if (blocks)
			json_object_set_new(detail, "rewards_held", json_integer(held));
		err = audit_append(e, actor, exists ? "participant.updated" : "participant.created", in->id, detail, d);
		json_decref(detail);
	}
	if (!err && was_none && strcmp(tax_form, "none"))
		err = release_tax_held(e, in->id, actor, now, d);
	return err;
}

/* The most contexts kept from one transaction to the next (about 15 MB). */
#define PARTICIPANT_CACHE_MAX 10000
/* A discarded cache larger than this is freed this many contexts per transaction:
 * freeing thousands at once stalled a whole group of events (bench/README.md). */
#define PARTICIPANT_CACHE_SLICE 512

/* Let go of the cache (it is no longer valid): at once when small, else in slices. */
static void participant_cache_retire(struct engine *e)
{
	json_t *c = e->participants;
	e->participants = NULL;
	if (json_object_size(c) <= PARTICIPANT_CACHE_SLICE) {
		json_decref(c);
		return;
	}
	json_decref(e->participants_old); /* rare: a second large one within a few hundred groups */
	e->participants_old = c;
}

static void participant_cache_free_slice(struct engine *e)
{
	json_t *old = e->participants_old;
	for (int n = 0; old && n < PARTICIPANT_CACHE_SLICE; n++) {
		void *it = json_object_iter(old);
		if (!it) {
			json_decref(old);
			e->participants_old = old = NULL;
			break;
		}
		json_object_del(old, json_object_iter_key(it));
	}
}

void participant_cache_drop(struct engine *e, const char *id)
{
	if (core_tx_cached(e, e->participants_gen))
		json_object_del(e->participants, id);
}

void participant_cache_committed(struct engine *e)
{
	/* kept only when it was valid to the end of the transaction: the transaction's own
	 * writes to participants dropped their entries (participant_cache_drop()) */
	e->participants_dv = -1;
	if (e->participants_gen != e->tx_gen)
		return;
	if (json_object_size(e->participants) > PARTICIPANT_CACHE_MAX) {
		participant_cache_retire(e);
		e->participants_gen = -1;
		return;
	}
	e->participants_dv = store_data_version(e->st);
}

void participant_cache_carry(struct engine *e)
{
	/* the last top-level transaction committed with the cache valid (a rollback forgets
	 * it: core_tx_forget()), and nothing was written since, by anyone */
	if (e->participants_dv >= 0 && e->participants_gen == e->tx_gen - 1 &&
	    store_data_version(e->st) == e->participants_dv)
		e->participants_gen = e->tx_gen;
	e->participants_dv = -1;
	participant_cache_free_slice(e);
}

json_t *participant_context(struct engine *e, const char *id)
{
	json_t *ctx = cached_context(e, id);
	return ctx ? json_incref(ctx) : load_context(e, id);
}

/* A stored device or IP list, or null for an empty one (most: kept by the thousand). */
static json_t *list_or_null(const char *text)
{
	return !text || !strcmp(text, "[]") ? json_null() : json_from_text(text, "[]");
}

/* Read the context of `id` (NULL when there is none); inside a transaction it is also
 * kept in the cache, the same value: nobody changes a context (core.h). New
 * reference. */
static json_t *load_context(struct engine *e, const char *id)
{
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_ROW);
	store_bind_text(st, 1, id);
	if (store_step(st) != 1)
		return NULL;
	json_t *attrs = json_from_text(store_col_text(st, 7), "{}");
	json_t *o = json_object();
	/* attributes are reachable both as referred.attributes.plan and referred.plan */
	if (json_is_object(attrs))
		json_object_update(o, attrs);
	jset(o, "id", json_string(id));
	jset(o, "country", json_string(store_col_text(st, 3) ? store_col_text(st, 3) : ""));
	jset(o, "currency", json_string(store_col_text(st, 4) ? store_col_text(st, 4) : ""));
	jset(o, "status", json_string(store_col_text(st, 5)));
	jset(o, "tax_form", json_string(store_col_text(st, 6)));
	jset(o, "has_email", json_boolean(!store_col_null(st, 1)));
	jset(o, "created_at", json_integer(store_col_int(st, 10)));
	jset(o, "attributes", attrs);
	if (store_depth(e->st) > 0) {
		if (!core_tx_cached(e, e->participants_gen)) {
			participant_cache_retire(e);
			e->participants = json_object();
			e->participants_gen = e->tx_gen;
		}
		/* beside it what the fraud checks read of the same row (participant_cached_row()),
		 * so that they need not read it again */
		json_t *row = json_array();
		json_array_append_new(row, store_col_null(st, 1) ? json_null() : json_string(store_col_text(st, 1)));
		json_array_append_new(row, json_string(store_col_text(st, 5)));
		json_array_append_new(row, list_or_null(store_col_text(st, 8)));
		json_array_append_new(row, list_or_null(store_col_text(st, 9)));
		json_t *entry = json_array();
		json_array_append(entry, o);
		json_array_append_new(entry, row);
		json_object_set_new(e->participants, id, entry);
	}
	return o;
}

static json_t *decrypt_field(struct engine *e, const char *sealed)
{
	if (!sealed)
		return json_null();
	char *plain = core_unseal(e, sealed);
	json_t *v = plain ? json_string(plain) : json_null();
	free(plain);
	return v;
}

static json_t *participant_row_json(struct engine *e, struct store_stmt *st, const char *id)
{
	/* columns of Q_PARTICIPANT_ROW */
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "object", json_string("participant"));
	json_object_set_new(o, "email", decrypt_field(e, store_col_text(st, 0)));
	json_object_set_new(o, "name", decrypt_field(e, store_col_text(st, 2)));
	json_object_set_new(o, "country", store_col_null(st, 3) ? json_null() : json_string(store_col_text(st, 3)));
	json_object_set_new(o, "currency", store_col_null(st, 4) ? json_null() : json_string(store_col_text(st, 4)));
	json_object_set_new(o, "status", json_string(store_col_text(st, 5)));
	json_object_set_new(o, "tax_form", json_string(store_col_text(st, 6)));
	json_object_set_new(o, "attributes", json_from_text(store_col_text(st, 7), "{}"));
	json_object_set_new(o, "device_ids", json_from_text(store_col_text(st, 8), "[]"));
	json_object_set_new(o, "ips", json_from_text(store_col_text(st, 9), "[]"));
	json_object_set_new(o, "created_at", json_time(store_col_int(st, 10), true));
	json_object_set_new(o, "updated_at", json_time(store_col_int(st, 11), true));
	return o;
}

json_t *participant_json(struct engine *e, const char *id)
{
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_ROW);
	store_bind_text(st, 1, id);
	if (store_step(st) != 1)
		return NULL;
	return participant_row_json(e, st, id);
}

static bool out_of_scope(const struct actor *a, const char *participant)
{
	return a->participant[0] && strcmp(a->participant, participant);
}

enum ff_err engine_participant_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				   struct ff_diag *d)
{
	json_t *o = out_of_scope(a, id) ? NULL : participant_json(e, id);
	if (!o)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no participant %s", id));
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_REFERRAL_COUNTS);
	store_bind_text(st, 1, id);
	int64_t refs = 0, ok = 0;
	if (store_step(st) == 1) {
		refs = store_col_int(st, 0);
		ok = store_col_int(st, 1);
	}
	json_t *by_status = json_object();
	st = store_query(e->st, Q_PARTICIPANT_REWARD_COUNTS);
	store_bind_text(st, 1, id);
	while (store_step(st) == 1)
		json_object_set_new(by_status, store_col_text(st, 0), json_integer(store_col_int(st, 1)));
	json_object_set_new(o, "stats",
			    json_pack("{s:I, s:I, s:o}", "referrals", (json_int_t)refs, "successful_referrals",
				      (json_int_t)ok, "rewards", by_status));
	json_t *bal = json_array();
	char acct[ID_MAX + 16];
	snprintf(acct, sizeof(acct), "participant:%s", id);
	st = store_query(e->st, Q_LEDGER_BALANCES_OF);
	store_bind_text(st, 1, acct);
	while (store_step(st) == 1)
		json_array_append_new(bal, json_pack("{s:s, s:I}", "currency", store_col_text(st, 0), "amount",
						     (json_int_t)store_col_int(st, 1)));
	json_object_set_new(o, "balances", bal);
	*out = o;
	return core_done(e, FF_OK);
}

enum ff_err engine_participants_list(struct engine *e, const struct actor *a, const struct participant_filter *f,
				     const struct page *p, json_t **out, struct ff_diag *d)
{
	int limit = page_limit(p);
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_LIST);
	store_bind_text(st, 1, f ? f->status : NULL);
	store_bind_text(st, 2, f ? f->country : NULL);
	store_bind_text(st, 3, a->participant[0] ? a->participant : NULL);
	store_bind_text(st, 4, p ? p->starting_after : NULL);
	store_bind_int(st, 5, limit + 1);
	json_t *data = json_array();
	while (store_step(st) == 1) {
		char id[ID_MAX + 1];
		copy_str(id, sizeof(id), store_col_text(st, 12));
		json_array_append_new(data, participant_row_json(e, st, id));
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

json_t *referral_row_json(struct store_stmt *st)
{
	/* columns: REFERRAL_COLS */
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(store_col_text(st, 0)));
	json_object_set_new(o, "object", json_string("referral"));
	json_object_set_new(o, "program", json_string(store_col_text(st, 1)));
	json_object_set_new(o, "referrer", json_string(store_col_text(st, 2)));
	json_object_set_new(o, "referred", json_string(store_col_text(st, 3)));
	static const char *const opt[] = {"code", "source", "affiliate", "ip", "device_id"};
	for (int i = 0; i < 5; i++)
		json_object_set_new(o, opt[i], store_col_null(st, 4 + i) ? json_null() : json_string(store_col_text(st, 4 + i)));
	json_object_set_new(o, "occurred_at", json_time(store_col_int(st, 9), true));
	json_object_set_new(o, "status", json_string(store_col_text(st, 10)));
	json_object_set_new(o, "rejection_reason",
			    store_col_null(st, 11) ? json_null() : json_string(store_col_text(st, 11)));
	json_object_set_new(o, "signals", json_from_text(store_col_text(st, 12), "[]"));
	json_object_set_new(o, "created_at", json_time(store_col_int(st, 13), true));
	json_object_set_new(o, "updated_at", json_time(store_col_int(st, 14), true));
	return o;
}

/* The latest of what evaluated the referral at the statement's current row
 * (REFERRAL_EVALUATED, queries.c), summarized for its referrer (evaluation_summary), or null
 * when nothing did yet: the referred person's latest conversion when it evaluated this
 * referral, else the latest conversion attributed to it, else the referral's own
 * explanation (a rejection at ingest, or a program triggered by referrals: written
 * when the referral arrived, before any conversion). */
static json_t *referral_last_evaluation(struct store_stmt *st, bool referrers)
{
	static const struct {
		int explanation, at;
		bool own;
	} sources[] = {{RE_COL_LATEST_EXPLANATION, RE_COL_LATEST_AT, false},
		       {RE_COL_CONVERSION_EXPLANATION, RE_COL_CONVERSION_AT, false},
		       {15, 13, true}}; /* REFERRAL_COLS: explanation, created_at */
	const char *id = store_col_text(st, 0);
	const char *currency = store_col_null(st, RE_COL_CURRENCY) ? NULL : store_col_text(st, RE_COL_CURRENCY);
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		if (store_col_null(st, sources[i].explanation))
			continue;
		json_t *expl = json_from_text(store_col_text(st, sources[i].explanation), NULL);
		json_t *summary = evaluation_summary(expl, sources[i].own ? NULL : id, currency,
						     store_col_int(st, sources[i].at), referrers);
		json_decref(expl);
		if (summary)
			return summary;
	}
	return json_null();
}

enum ff_err engine_participant_referrals(struct engine *e, const struct actor *a, const char *id,
					 const struct page *p, json_t **out, struct ff_diag *d)
{
	if (out_of_scope(a, id) || !participant_exists(e, id))
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no participant %s", id));
	int limit = page_limit(p);
	/* a partner's cursor must be one of the referrals of this list: the page after
	 * another's would tell that it exists (and when it was made). Another's is
	 * answered as one that does not exist: an empty page. */
	if (a->participant[0] && p && p->starting_after) {
		struct store_stmt *q = store_query(e->st, Q_REFERRAL_GET);
		store_bind_text(q, 1, p->starting_after);
		int rc = store_step(q);
		if (rc < 0)
			return core_done(e, core_store_fail(e, d, "referral"));
		if (rc == 0 || strcmp(store_col_text(q, 2), id)) {
			*out = list_json(json_array(), limit);
			return core_done(e, FF_OK);
		}
	}
	struct store_stmt *st = store_query(e->st, Q_REFERRAL_LIST_BY_REFERRER);
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, p ? p->starting_after : NULL);
	store_bind_int(st, 3, limit + 1);
	json_t *data = json_array();
	while (store_step(st) == 1) {
		json_t *o = referral_row_json(st);
		core_redact_for_partner(a, o);
		/* referrals of `id` as the referrer: its own key, or staff */
		json_object_set_new(o, "last_evaluation", referral_last_evaluation(st, true));
		json_array_append_new(data, o);
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

enum ff_err engine_referral_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_REFERRAL_GET_EVALUATED);
	store_bind_text(st, 1, id);
	if (store_step(st) != 1)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no referral %s", id));
	if (a->participant[0] && strcmp(a->participant, store_col_text(st, 2)) &&
	    strcmp(a->participant, store_col_text(st, 3)))
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no referral %s", id));
	json_t *o = referral_row_json(st);
	json_t *expl = json_from_text(store_col_text(st, 15), NULL);
	/* a partner that is not the referrer is the referred person */
	bool referred = a->participant[0] && strcmp(a->participant, store_col_text(st, 2));
	core_redact_for_partner(a, o);
	rules_redact_for_partner(a, expl, referred ? "referred" : "referrer");
	json_object_set_new(o, "last_evaluation", referral_last_evaluation(st, !referred));
	json_object_set_new(o, "explanation", expl);
	*out = o;
	return core_done(e, FF_OK);
}

enum ff_err engine_conversion_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				  struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_CONVERSION_GET);
	store_bind_text(st, 1, id);
	if (store_step(st) != 1 || out_of_scope(a, store_col_text(st, 1)))
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no conversion %s", id));
	int64_t amount = store_col_int(st, 2), refunded = store_col_int(st, 8);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "object", json_string("conversion"));
	json_object_set_new(o, "participant", json_string(store_col_text(st, 1)));
	json_object_set_new(o, "amount", json_integer(amount));
	json_object_set_new(o, "currency", json_string(store_col_text(st, 3)));
	json_object_set_new(o, "category", store_col_null(st, 4) ? json_null() : json_string(store_col_text(st, 4)));
	json_object_set_new(o, "product", store_col_null(st, 5) ? json_null() : json_string(store_col_text(st, 5)));
	json_object_set_new(o, "attributes", json_from_text(store_col_text(st, 6), "{}"));
	json_object_set_new(o, "occurred_at", json_time(store_col_int(st, 7), true));
	json_object_set_new(o, "refunded_amount", json_integer(refunded));
	json_object_set_new(o, "net_amount", json_integer(amount - refunded));
	json_object_set_new(o, "referral", store_col_null(st, 9) ? json_null() : json_string(store_col_text(st, 9)));
	json_object_set_new(o, "program", store_col_null(st, 10) ? json_null() : json_string(store_col_text(st, 10)));
	json_object_set_new(o, "program_version",
			    store_col_null(st, 11) ? json_null() : json_integer(store_col_int(st, 11)));
	json_t *expl = json_from_text(store_col_text(st, 12), NULL);
	json_object_set_new(o, "created_at", json_time(store_col_int(st, 13), true));
	json_t *rewards = json_array();
	st = store_query(e->st, Q_REWARD_IDS_BY_CONVERSION);
	store_bind_text(st, 1, id);
	while (store_step(st) == 1)
		json_array_append_new(rewards, json_string(store_col_text(st, 0)));
	json_object_set_new(o, "explanation", json_array_size(rewards) ? json_null() : json_incref(expl));
	json_decref(expl);
	json_object_set_new(o, "rewards", rewards);
	*out = o;
	return core_done(e, FF_OK);
}

enum ff_err engine_participant_tax_form(struct engine *e, const struct actor *a, const char *id,
					const char *form, json_t **out, struct ff_diag *d)
{
	if (out_of_scope(a, id) || !participant_exists(e, id))
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no participant %s", id));
	if (!form || (strcmp(form, "w9") && strcmp(form, "w8ben") && strcmp(form, "none")))
		return core_done(e, ff_fail(d, FF_E_INVALID, "form", "form must be \"w9\", \"w8ben\" or \"none\""));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct participant_in in = {.id = id, .tax_form = form};
	err = participant_upsert(e, &in, a->label, fftime_now(), d);
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	return engine_participant_get(e, a, id, out, d);
}

enum ff_err engine_report_participants(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d)
{
	json_t *rows = json_array();
	json_t *index = json_object(); /* id -> row, to attach the per-currency amounts */
	struct store_stmt *st = store_query(e->st, Q_REPORT_PARTICIPANTS);
	store_bind_text(st, 1, a->participant[0] ? a->participant : NULL);
	while (store_step(st) == 1) {
		json_t *r = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:o}", "participant", store_col_text(st, 0),
				      "referrals", (json_int_t)store_col_int(st, 1), "successful_referrals",
				      (json_int_t)store_col_int(st, 2), "rewards_earned",
				      (json_int_t)store_col_int(st, 3), "rewards_fulfilled",
				      (json_int_t)store_col_int(st, 4), "rewards", json_object(), "amounts",
				      json_array());
		json_object_set(index, store_col_text(st, 0), r);
		json_array_append_new(rows, r);
	}
	st = store_query(e->st, Q_REPORT_PARTICIPANT_STATUS);
	store_bind_text(st, 1, a->participant[0] ? a->participant : NULL);
	while (store_step(st) == 1) {
		json_t *r = json_object_get(index, store_col_text(st, 0));
		if (r)
			json_object_set_new(json_object_get(r, "rewards"), store_col_text(st, 1),
					    json_integer(store_col_int(st, 2)));
	}
	st = store_query(e->st, Q_REPORT_PARTICIPANT_AMOUNTS);
	store_bind_text(st, 1, a->participant[0] ? a->participant : NULL);
	while (store_step(st) == 1) {
		json_t *r = json_object_get(index, store_col_text(st, 0));
		if (r)
			json_array_append_new(json_object_get(r, "amounts"),
					      json_pack("{s:s, s:I, s:I}", "currency", store_col_text(st, 1), "earned",
							(json_int_t)store_col_int(st, 2), "fulfilled",
							(json_int_t)store_col_int(st, 3)));
	}
	json_decref(index);
	*out = json_pack("{s:s, s:o}", "object", "report.participants", "data", rows);
	return core_done(e, FF_OK);
}
