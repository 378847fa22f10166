/*
 * fraud.c - fraud signals (SPEC §7) and the blocklist.
 *
 * Referral-time signals are computed when a referral is ingested and stored with it:
 * self_referral (same normalized e-mail, a shared device id, the same IP or /24),
 * existing_customer (the referred person converted before the referral),
 * duplicate_referral (the same pair again, or a person whose referral in this program
 * already succeeded; a person is a participant and every other one with the same
 * normalized e-mail), velocity (too many referrals by one referrer in the program in
 * a sliding window) and blocklist (a domain entry covers its subdomains). Reward-time
 * signals are added when rewards are created: payout_threshold (the referrer's
 * rewards in a period above an amount), and what was learnt since the referral:
 * self_referral over the e-mails, devices and IPs the two participants have now,
 * duplicate_referral when another participant id of the same mailbox already earned
 * in the program, blocklist entries. Per program each signal rejects (at the
 * referral: the referral is rejected; at reward time: the conversion earns nothing;
 * the explanation says why), sends rewards to `review` with reason
 * `review:<signal>`, or is off.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/fraud.h"
#include "core/ingest.h"
#include "fulfill/crypto.h"

/* ---- IP addresses ---- */

/* Parse an IPv4 or IPv6 address into 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static bool ip_parse(const char *s, unsigned char out[16])
{
	struct in_addr v4;
	if (inet_pton(AF_INET, s, &v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &v4, 4);
		return true;
	}
	return inet_pton(AF_INET6, s, out) == 1;
}

static bool ip_is_v4(const unsigned char a[16])
{
	static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return !memcmp(a, prefix, 12);
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)bytes))
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool fraud_ip_match(const char *a, const char *b, bool subnet)
{
	unsigned char x[16], y[16];
	if (!a || !b || !ip_parse(a, x) || !ip_parse(b, y))
		return false;
	if (!subnet)
		return !memcmp(x, y, 16);
	if (ip_is_v4(x) != ip_is_v4(y))
		return false;
	return prefix_equal(x, y, ip_is_v4(x) ? 96 + 24 : 64);
}

bool fraud_cidr_contains(const char *cidr, const char *ip)
{
	char net[64];
	copy_str(net, sizeof(net), cidr);
	int bits = -1;
	char *slash = strchr(net, '/');
	if (slash) {
		*slash = '\0';
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (*end || b < 0 || b > 128)
			return false;
		bits = (int)b;
	}
	unsigned char n[16], a[16];
	if (!ip_parse(net, n) || !ip || !ip_parse(ip, a))
		return false;
	if (bits < 0)
		return !memcmp(n, a, 16);
	if (ip_is_v4(n)) {
		if (bits > 32 || !ip_is_v4(a))
			return false;
		bits += 96;
	}
	return prefix_equal(n, a, bits);
}

bool fraud_cidr_valid(const char *cidr)
{
	char net[64];
	copy_str(net, sizeof(net), cidr);
	char *slash = strchr(net, '/');
	int max = 128;
	unsigned char n[16];
	if (slash)
		*slash = '\0';
	if (!ip_parse(net, n))
		return false;
	if (ip_is_v4(n))
		max = 32;
	if (!slash)
		return true;
	char *end;
	long b = strtol(slash + 1, &end, 10);
	return slash[1] && !*end && b >= 0 && b <= max;
}

/* ---- domains ---- */

void fraud_domain_normalize(const char *domain, char *out, size_t n)
{
	while (*domain == '.')
		domain++;
	size_t len = strlen(domain);
	while (len && domain[len - 1] == '.')
		len--;
	if (len > n - 1)
		len = n - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)domain[i]);
	out[len] = '\0';
}

/* ---- helpers ---- */

static void add_signal(json_t *signals, const struct program *p, enum fraud_signal s, const char *detail)
{
	if (p->fraud[s] == FRAUD_OFF)
		return;
	/* one entry per signal: the first detail explains it */
	size_t i;
	json_t *v;
	json_array_foreach(signals, i, v) if (!strcmp(json_string_value(json_object_get(v, "signal")),
						    fraud_signal_names[s])) return;
	json_array_append_new(signals, json_pack("{s:s, s:s, s:s}", "signal", fraud_signal_names[s], "detail", detail,
						 "action", p->fraud[s] == FRAUD_REJECT ? "reject" : "review"));
}

static bool json_array_has(json_t *arr, const char *v)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x) if (json_is_string(x) && !strcmp(json_string_value(x), v)) return true;
	return false;
}

static bool arrays_intersect(json_t *a, json_t *b)
{
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x) if (json_is_string(x) && json_array_has(b, json_string_value(x))) return true;
	return false;
}

/* What fraud checks need of a participant. */
struct who {
	bool found;
	bool blocked; /* participant status `blocked` */
	char email_hash[65];
	char email_domain[321]; /* an e-mail has at most 320 characters */
	json_t *devices, *ips;
};

/* `domain`: also open the sealed e-mail for its domain (only the blocklist needs it). */
static void who_load(struct engine *e, const char *id, bool domain, struct who *w)
{
	memset(w, 0, sizeof(*w));
	const char *sealed = NULL;
	/* the conversion's evaluation has just read the participant's context: the row
	 * comes with it (a referrer's, often from an earlier transaction's cache) */
	json_t *row = store_depth(e->st) > 0 && !domain ? participant_cached_row(e, id) : NULL;
	if (row) {
		/* (the sealed e-mail is not cached: with domain entries on the blocklist the
		 * row is read again, as below) */
		w->found = true;
		w->blocked = !strcmp(json_string_value(json_array_get(row, 1)), "blocked");
		copy_str(w->email_hash, sizeof(w->email_hash), json_string_value(json_array_get(row, 0)));
		json_t *devices = json_array_get(row, 2), *ips = json_array_get(row, 3);
		w->devices = json_is_array(devices) ? json_incref(devices) : json_array();
		w->ips = json_is_array(ips) ? json_incref(ips) : json_array();
	} else {
		struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_ROW);
		store_bind_text(st, 1, id);
		if (store_step(st) != 1) {
			w->devices = json_array();
			w->ips = json_array();
			return;
		}
		w->found = true;
		w->blocked = !strcmp(store_col_text(st, 5) ? store_col_text(st, 5) : "", "blocked");
		copy_str(w->email_hash, sizeof(w->email_hash), store_col_text(st, 1));
		w->devices = json_from_text(store_col_text(st, 8), "[]");
		w->ips = json_from_text(store_col_text(st, 9), "[]");
		sealed = domain ? store_col_text(st, 0) : NULL;
	}
	if (sealed) {
		char *email = core_unseal(e, sealed);
		const char *at = email ? strrchr(email, '@') : NULL;
		if (at)
			fraud_domain_normalize(at + 1, w->email_domain, sizeof(w->email_domain));
		free(email);
	}
}

static void who_release(struct who *w)
{
	json_decref(w->devices);
	json_decref(w->ips);
}

static bool blocklist_empty(struct engine *e)
{
	if (core_tx_cached(e, e->blocklist_gen))
		return e->blocklist_is_empty;
	struct store_stmt *st = store_query(e->st, Q_BLOCKLIST_ANY);
	e->blocklist_is_empty = store_step(st) != 1;
	e->blocklist_gen = e->tx_gen;
	return e->blocklist_is_empty;
}

static bool blocked(struct engine *e, const char *kind, const char *value)
{
	if (!value || !*value)
		return false;
	struct store_stmt *st = store_query(e->st, Q_BLOCKLIST_HAS);
	store_bind_text(st, 1, kind);
	store_bind_text(st, 2, value);
	return store_step(st) == 1;
}

/* The blocklist entry that matches a domain, NULL for none: an entry matches the
 * domain itself and every subdomain of it. Entries hold a dot, so the probes are the
 * domain and each suffix of it that begins after a dot and still holds one: one indexed
 * probe per label but the last ("a.b.example.com": itself, "b.example.com",
 * "example.com"), never a scan of the entries. */
static const char *domain_blocked(struct engine *e, const char *domain)
{
	for (const char *s = domain; strchr(s, '.'); s = strchr(s, '.') + 1)
		if (blocked(e, "domain", s))
			return s;
	return NULL;
}

static bool ip_blocked(struct engine *e, const char *ip)
{
	if (!ip || !*ip)
		return false;
	struct store_stmt *st = store_query(e->st, Q_BLOCKLIST_OF_KIND);
	store_bind_text(st, 1, "ip");
	while (store_step(st) == 1)
		if (fraud_cidr_contains(store_col_text(st, 0), ip))
			return true;
	return false;
}

/* Blocklist checks over the people involved and the referral's IP and device. A
 * participant whose status is `blocked` counts as blocklisted. */
static void check_blocklist(struct engine *e, const struct program *p, const struct who *people, int n,
			    const char *ip, const char *device, json_t *signals)
{
	if (p->fraud[SIG_BLOCKLIST] == FRAUD_OFF)
		return;
	for (int i = 0; i < n; i++)
		if (people[i].blocked)
			add_signal(signals, p, SIG_BLOCKLIST,
				   i == 0 ? "the referrer is blocked" : "the referred person is blocked");
	if (blocklist_empty(e))
		return;
	for (int i = 0; i < n; i++) {
		const char *role = i == 0 ? "referrer" : "referred", *entry;
		char detail[800];
		if (blocked(e, "email", people[i].email_hash)) {
			snprintf(detail, sizeof(detail), "the %s's e-mail is blocklisted", role);
			add_signal(signals, p, SIG_BLOCKLIST, detail);
		} else if ((entry = domain_blocked(e, people[i].email_domain))) {
			bool parent = entry != people[i].email_domain;
			snprintf(detail, sizeof(detail), "the %s's e-mail domain %s is blocklisted%s%s%s", role,
				 people[i].email_domain, parent ? " (as a subdomain of " : "", parent ? entry : "",
				 parent ? ")" : "");
			add_signal(signals, p, SIG_BLOCKLIST, detail);
		}
		size_t k;
		json_t *v;
		json_array_foreach(people[i].devices, k, v) if (blocked(e, "device", json_string_value(v)))
		{
			snprintf(detail, sizeof(detail), "a device of the %s is blocklisted", role);
			add_signal(signals, p, SIG_BLOCKLIST, detail);
		}
		json_array_foreach(people[i].ips, k, v) if (ip_blocked(e, json_string_value(v)))
		{
			snprintf(detail, sizeof(detail), "an IP address of the %s is blocklisted", role);
			add_signal(signals, p, SIG_BLOCKLIST, detail);
		}
	}
	if (ip_blocked(e, ip))
		add_signal(signals, p, SIG_BLOCKLIST, "the referral's IP address is blocklisted");
	if (blocked(e, "device", device))
		add_signal(signals, p, SIG_BLOCKLIST, "the referral's device is blocklisted");
}

/* Self-referral over the two people (referrer, referred) as they are now: the same
 * normalized e-mail (also `given_hash`, the keyed hash of an e-mail the referral
 * named, "" for none), a device seen on both (or the referral's `device`), an IP
 * address (or /24, /64) seen on both (or the referral's `ip`). */
static void check_self_referral(const struct program *p, const struct who *people, const char *given_hash,
				const char *ip, const char *device, json_t *signals)
{
	const char *mine = people[0].email_hash;
	if (mine[0] && ((people[1].email_hash[0] && !strcmp(mine, people[1].email_hash)) ||
			(given_hash[0] && !strcmp(mine, given_hash)))) {
		add_signal(signals, p, SIG_SELF_REFERRAL, "referrer and referred share an e-mail address");
		return;
	}
	if ((device && json_array_has(people[0].devices, device)) || arrays_intersect(people[0].devices, people[1].devices)) {
		add_signal(signals, p, SIG_SELF_REFERRAL, "referrer and referred share a device");
		return;
	}
	size_t i;
	json_t *v;
	bool hit = false;
	json_array_foreach(people[0].ips, i, v)
	{
		const char *rip = json_string_value(v);
		if (ip && fraud_ip_match(rip, ip, p->ip_subnet24))
			hit = true;
		size_t j;
		json_t *w;
		json_array_foreach(people[1].ips, j, w) if (fraud_ip_match(rip, json_string_value(w), p->ip_subnet24)) hit =
			true;
	}
	if (hit)
		add_signal(signals, p, SIG_SELF_REFERRAL,
			   p->ip_subnet24 ? "referrer and referred share an IP network"
					  : "referrer and referred share an IP address");
}

enum ff_err fraud_referral_signals(struct engine *e, const struct program *p, const struct referral_facts *f,
				   json_t *signals)
{
	struct who people[2];
	who_load(e, f->referrer, true, &people[0]);
	who_load(e, f->referred, true, &people[1]);
	if (p->fraud[SIG_SELF_REFERRAL] != FRAUD_OFF) {
		char given[65] = "";
		if (f->referred_email)
			participant_email_hash(e, f->referred_email, given);
		check_self_referral(p, people, given, f->ip, f->device_id, signals);
	}
	if (p->fraud[SIG_EXISTING_CUSTOMER] != FRAUD_OFF) {
		struct store_stmt *st = store_query(e->st, Q_FRAUD_CONVERTED_BEFORE);
		store_bind_text(st, 1, f->referred);
		store_bind_int(st, 2, f->occurred_at);
		if (store_step(st) == 1 && store_col_int(st, 0) > 0)
			add_signal(signals, p, SIG_EXISTING_CUSTOMER, "the referred person was already a customer");
	}
	if (p->fraud[SIG_DUPLICATE_REFERRAL] != FRAUD_OFF) {
		struct store_stmt *st = store_query(e->st, Q_FRAUD_DUPLICATE);
		store_bind_text(st, 1, f->referred);
		store_bind_text(st, 2, p->id);
		store_bind_text(st, 3, f->referrer);
		if (store_step(st) == 1) {
			/* the person: this participant, or another one with the same normalized
			 * e-mail (a second identity of the same mailbox) */
			bool same_pair = !strcmp(store_col_text(st, 0), f->referrer);
			bool other_id = strcmp(store_col_text(st, 1), f->referred) != 0;
			char detail[ID_MAX + 160];
			snprintf(detail, sizeof(detail), "%s%s%s",
				 same_pair ? "the referrer referred this person before"
					   : "this person's referral in this program already succeeded",
				 other_id ? " as participant " : "", other_id ? store_col_text(st, 1) : "");
			add_signal(signals, p, SIG_DUPLICATE_REFERRAL, detail);
		}
	}
	if (p->fraud[SIG_VELOCITY] != FRAUD_OFF) {
		struct store_stmt *st = store_query(e->st, Q_FRAUD_VELOCITY);
		store_bind_text(st, 1, f->referrer);
		store_bind_text(st, 2, p->id); /* a program's limit counts its own referrals */
		store_bind_int(st, 3, f->occurred_at - p->velocity_window_ms);
		store_bind_int(st, 4, f->occurred_at);
		int64_t n = store_step(st) == 1 ? store_col_int(st, 0) : 0;
		if (n + 1 > p->velocity_max) {
			char detail[160];
			snprintf(detail, sizeof(detail), "%lld referrals within %lld hours (more than %lld)",
				 (long long)(n + 1), (long long)(p->velocity_window_ms / 3600000), (long long)p->velocity_max);
			add_signal(signals, p, SIG_VELOCITY, detail);
		}
	}
	check_blocklist(e, p, people, 2, f->ip, f->device_id, signals);
	who_release(&people[0]);
	who_release(&people[1]);
	return FF_OK;
}

void fraud_reward_time_signals(struct engine *e, const struct program *p, const char *referral, const char *referrer,
			       const char *referred, int64_t referral_at, json_t *signals)
{
	bool self = p->fraud[SIG_SELF_REFERRAL] != FRAUD_OFF;
	bool blocklist = p->fraud[SIG_BLOCKLIST] != FRAUD_OFF;
	bool customer = p->fraud[SIG_EXISTING_CUSTOMER] != FRAUD_OFF;
	bool duplicate = p->fraud[SIG_DUPLICATE_REFERRAL] != FRAUD_OFF;
	if (!self && !blocklist && !customer && !duplicate)
		return;
	struct who people[2];
	bool domains = blocklist && !blocklist_empty(e);
	/* the referred person is read for every check (the mailbox checks need the e-mail) */
	who_load(e, referred, domains, &people[1]);
	if (self || blocklist) {
		who_load(e, referrer, domains, &people[0]);
		/* e-mails, devices and IPs learnt since the referral (a participant event that
		 * gave the referred person the referrer's address) */
		if (self)
			check_self_referral(p, people, "", NULL, NULL, signals);
		check_blocklist(e, p, people, 2, NULL, NULL, signals);
		who_release(&people[0]);
	}
	/* does another participant id share the buyer's mailbox? Only then do the checks
	 * below look beyond the buyer's own id (two indexed probes saved per conversion) */
	bool shared = false;
	if ((customer || duplicate) && people[1].email_hash[0]) {
		struct store_stmt *st = store_query(e->st, Q_FRAUD_MAILBOX_SHARED);
		store_bind_text(st, 1, people[1].email_hash);
		store_bind_text(st, 2, referred);
		shared = store_step(st) == 1;
	}
	who_release(&people[1]);
	if (customer) {
		/* a purchase from before the referral delivered after it, or one of another
		 * id of the same mailbox whose e-mail was learnt since; not one this referral
		 * was credited with (a referral sent without occurred_at took its ingest time,
		 * and a purchase a little earlier may have earned under it: docs/programs.md) */
		struct store_stmt *st =
		    store_query(e->st, shared ? Q_FRAUD_CUSTOMER_BEFORE_REFERRAL : Q_FRAUD_CUSTOMER_BEFORE_REFERRAL_OWN);
		store_bind_text(st, 1, referred);
		store_bind_int(st, 2, referral_at);
		store_bind_text(st, 3, referral ? referral : "");
		if (store_step(st) == 1 && store_col_int(st, 0) > 0)
			add_signal(signals, p, SIG_EXISTING_CUSTOMER, "the referred person was already a customer");
	}
	if (duplicate && shared) {
		/* another participant id of the same mailbox (its e-mail may have been learnt
		 * after the referral) already earned under a referral of this program: a
		 * second identity of one person. Referrals of this very id are settled by
		 * attribution instead (a later purchase may go to the last touch). */
		struct store_stmt *st = store_query(e->st, Q_FRAUD_DUPLICATE_SUCCEEDED);
		store_bind_text(st, 1, referred);
		store_bind_text(st, 2, p->id);
		if (store_step(st) == 1) {
			char detail[2 * ID_MAX + 160];
			snprintf(detail, sizeof(detail),
				 "this person's referral %s in this program already succeeded as participant %s",
				 store_col_text(st, 0), store_col_text(st, 1));
			add_signal(signals, p, SIG_DUPLICATE_REFERRAL, detail);
		}
	}
}

bool fraud_payout_threshold(struct engine *e, const struct program *p, const char *referrer, int64_t amount,
			    int64_t period_start, int64_t period_end, char *detail, size_t n)
{
	if (!p->has_payout_threshold || p->fraud[SIG_PAYOUT_THRESHOLD] == FRAUD_OFF)
		return false;
	struct store_stmt *st = store_query(e->st, Q_STATS_REFERRER_REWARDS_SINCE);
	store_bind_text(st, 1, referrer);
	store_bind_text(st, 2, p->id);
	store_bind_int(st, 3, period_start);
	store_bind_text(st, 4, p->currency);
	store_bind_int(st, 5, period_end);
	int64_t sum = store_step(st) == 1 ? store_col_int(st, 1) : 0;
	if (sum + amount <= p->payout_threshold)
		return false;
	snprintf(detail, n, "the referrer's rewards this period would reach %lld, above %lld", (long long)(sum + amount),
		 (long long)p->payout_threshold);
	return true;
}

const char *fraud_first(json_t *signals, const char *action)
{
	size_t i;
	json_t *v;
	json_array_foreach(signals, i, v) if (!strcmp(json_string_value(json_object_get(v, "action")), action)) return
		json_string_value(json_object_get(v, "signal"));
	return NULL;
}

/* ---- blocklist management ---- */

static const char *const kinds[] = {"email", "domain", "ip", "device", NULL};

static enum ff_err normalize_entry(struct engine *e, const char *kind, const char *value, char *out, size_t n,
				   struct ff_diag *d)
{
	bool ok = false;
	for (int i = 0; kinds[i]; i++)
		ok |= !strcmp(kind, kinds[i]);
	if (!ok)
		return ff_fail(d, FF_E_INVALID, "kind", "kind must be email, domain, ip or device");
	if (!value || !*value || strlen(value) > 320)
		return ff_fail(d, FF_E_INVALID, "value", "value must be 1 to 320 characters");
	if (!strcmp(kind, "email")) {
		if (!strchr(value, '@'))
			return ff_fail(d, FF_E_INVALID, "value", "not an e-mail address");
		participant_email_hash(e, value, out); /* only a keyed hash is stored */
	} else if (!strcmp(kind, "domain")) {
		/* ".example.com" and "example.com." are "example.com" (which matches its
		 * subdomains: a leading dot adds nothing) */
		fraud_domain_normalize(value, out, n);
		if (strchr(out, '@') || strchr(out, '/') || !strchr(out, '.'))
			return ff_fail(d, FF_E_INVALID, "value", "not a domain name");
	} else if (!strcmp(kind, "ip")) {
		if (!fraud_cidr_valid(value))
			return ff_fail(d, FF_E_INVALID, "value", "not an IP address or CIDR block");
		copy_str(out, n, value);
	} else {
		copy_str(out, n, value);
	}
	return FF_OK;
}

/* A blocklist entry as the API shows it, when added and when listed alike. */
static json_t *blocklist_entry_json(const char *kind, json_t *value, const char *note, int64_t created_at)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "object", "blocklist_entry", "kind", kind, "value", value,
			 "note", note ? json_string(note) : json_null(), "created_at", json_time(created_at, true));
}

enum ff_err engine_blocklist_put(struct engine *e, const struct actor *a, const char *kind, const char *value,
				 const char *note, json_t **out, struct ff_diag *d)
{
	char key[400];
	enum ff_err err = normalize_entry(e, kind, value, key, sizeof(key), d);
	if (err)
		return core_done(e, err);
	if ((err = core_begin(e, d)))
		return core_done(e, err);
	core_tx_forget(e);
	char *sealed = !strcmp(kind, "email") ? crypto_seal(e->cfg.master_key, value) : NULL;
	struct store_stmt *st = store_query(e->st, Q_BLOCKLIST_PUT);
	store_bind_text(st, 1, kind);
	store_bind_text(st, 2, key);
	store_bind_text(st, 3, sealed);
	store_bind_text(st, 4, note);
	int64_t now = fftime_now();
	store_bind_int(st, 5, now);
	store_bind_text(st, 6, e->key_id);
	free(sealed);
	if (store_exec(st))
		err = core_store_fail(e, d, "blocklist");
	if (!err) {
		/* the audit record names the kind, never an e-mail */
		json_t *detail = json_pack("{s:s}", "kind", kind);
		err = audit_append(e, a->label, "blocklist.added", !strcmp(kind, "email") ? key : value, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (!err)
		*out = blocklist_entry_json(kind, json_string(!strcmp(kind, "email") ? value : key), note, now);
	return core_done(e, err);
}

enum ff_err engine_blocklist_delete(struct engine *e, const struct actor *a, const char *kind, const char *value,
				    json_t **out, struct ff_diag *d)
{
	char key[400];
	enum ff_err err = normalize_entry(e, kind, value, key, sizeof(key), d);
	if (err)
		return core_done(e, err);
	if ((err = core_begin(e, d)))
		return core_done(e, err);
	core_tx_forget(e);
	struct store_stmt *st = store_query(e->st, Q_BLOCKLIST_DELETE);
	store_bind_text(st, 1, kind);
	store_bind_text(st, 2, key);
	if (store_exec(st))
		err = core_store_fail(e, d, "blocklist");
	else if (store_changes(e->st) == 0)
		err = ff_fail(d, FF_E_NOT_FOUND, NULL, "no %s entry for that value", kind);
	if (!err) {
		json_t *detail = json_pack("{s:s}", "kind", kind);
		err = audit_append(e, a->label, "blocklist.removed", !strcmp(kind, "email") ? key : value, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (!err)
		*out = json_pack("{s:s, s:s, s:b}", "object", "blocklist_entry", "kind", kind, "deleted", 1);
	return core_done(e, err);
}

enum ff_err engine_blocklist_list(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d)
{
	json_t *data = json_array();
	struct store_stmt *st = store_query(e->st, Q_BLOCKLIST_LIST);
	while (store_step(st) == 1) {
		const char *kind = store_col_text(st, 0);
		json_t *value;
		if (!strcmp(kind, "email")) {
			char *plain = store_col_null(st, 2) ? NULL : core_unseal(e, store_col_text(st, 2));
			value = plain ? json_string(plain) : json_string("(encrypted)");
			free(plain);
		} else {
			value = json_string(store_col_text(st, 1));
		}
		json_array_append_new(data, blocklist_entry_json(kind, value,
								 store_col_null(st, 3) ? NULL : store_col_text(st, 3),
								 store_col_int(st, 4)));
	}
	*out = json_pack("{s:s, s:o, s:b}", "object", "list", "data", data, "has_more", 0);
	return core_done(e, FF_OK);
}
