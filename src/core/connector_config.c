/*
 * connector_config.c - connector configurations (PUT /v1/connectors/{id}): validated
 * against the connector type's fields, secrets sealed with the master key
 * (XChaCha20-Poly1305, crypto_seal) and never returned: reads show them masked
 * ("sk_...1234"). Saving a configuration closes its breaker and releases the rewards
 * that waited for it (connector_unavailable).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect/connector.h"
#include "core/core.h"
#include "fulfill/http_client.h"
#include "fulfill/crypto.h"

static const char *const common_fields[] = {"base_url",	       "timeout_ms",	    "connect_timeout_ms",
					    "max_attempts",    "backoff_base_ms",   "backoff_cap_ms",
					    "breaker_threshold", "breaker_cooldown_ms", "concurrency",
					    "sync_interval_ms", NULL};

static const struct {
	const char *key;
	int64_t lo, hi, def;
} int_fields[] = {
	{"timeout_ms", 10, 600000, 15000},	   {"connect_timeout_ms", 10, 60000, 5000},
	{"max_attempts", 1, 100, 8},		   {"backoff_base_ms", 0, 86400000, 1000},
	{"backoff_cap_ms", 0, 7 * 86400000LL, 3600000}, {"breaker_threshold", 1, 100000, 5},
	{"breaker_cooldown_ms", 0, 86400000, 30000}, {"concurrency", 1, 256, 16},
	{"sync_interval_ms", 0, 30 * 86400000LL, 3600000}, {"lookup_max_pages", 1, 50, CONNECTOR_LOOKUP_PAGES},
};

static const char *const default_base[][2] = {
	{"stripe", "https://api.stripe.com"},	   {"recurly", "https://v3.recurly.com"},
	{"braintree", "https://api.braintreegateway.com"}, {"giftcard", "https://www.tremendous.com"},
	{"webhook", ""},			   {"smtp", ""},
};

static bool listed(const char *k, const char *const *l)
{
	for (; l && *l; l++)
		if (!strcmp(k, *l))
			return true;
	return false;
}

static int64_t int_default(const char *key)
{
	for (size_t i = 0; i < sizeof(int_fields) / sizeof(int_fields[0]); i++)
		if (!strcmp(int_fields[i].key, key))
			return int_fields[i].def;
	return 0;
}

void connector_conf_release(struct connector_conf *c)
{
	if (c && c->config) {
		json_decref(c->config);
		c->config = NULL;
	}
}

static int64_t conf_int(json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);
	return json_is_integer(v) ? json_integer_value(v) : int_default(key);
}

/* Fill a conf from a row of the connectors columns (id, type, config, secrets,
 * failures, open_until, created_at, updated_at). */
static void conf_from_row(struct engine *e, struct store_stmt *st, struct connector_conf *c)
{
	memset(c, 0, sizeof(*c));
	copy_str(c->id, sizeof(c->id), store_col_text(st, 0));
	copy_str(c->type, sizeof(c->type), store_col_text(st, 1));
	c->config = json_from_text(store_col_text(st, 2), "{}");
	if (!store_col_null(st, 3)) {
		char *plain = core_unseal(e, store_col_text(st, 3));
		json_t *sec = plain ? json_loads(plain, 0, NULL) : NULL;
		if (plain) {
			free(plain);
		}
		if (json_is_object(sec))
			json_object_update(c->config, sec);
		json_decref(sec);
	}
	c->failures = store_col_int(st, 4);
	c->open_until = store_col_null(st, 5) ? 0 : store_col_int(st, 5);
	const char *base = connector_conf_str(c, "base_url");
	if (!base)
		for (size_t i = 0; i < sizeof(default_base) / sizeof(default_base[0]); i++)
			if (!strcmp(default_base[i][0], c->type))
				base = default_base[i][1];
	copy_str(c->base_url, sizeof(c->base_url), base);
	c->timeout_ms = (long)conf_int(c->config, "timeout_ms");
	c->connect_timeout_ms = (long)conf_int(c->config, "connect_timeout_ms");
	c->max_attempts = (int)conf_int(c->config, "max_attempts");
	c->backoff_base_ms = conf_int(c->config, "backoff_base_ms");
	c->backoff_cap_ms = conf_int(c->config, "backoff_cap_ms");
	c->breaker_threshold = (int)conf_int(c->config, "breaker_threshold");
	c->breaker_cooldown_ms = conf_int(c->config, "breaker_cooldown_ms");
	c->concurrency = (int)conf_int(c->config, "concurrency");
	c->sync_interval_ms = conf_int(c->config, "sync_interval_ms");
	c->lookup_max_pages = (int)conf_int(c->config, "lookup_max_pages");
}

enum ff_err connector_conf_load(struct engine *e, const char *name, struct connector_conf *out, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_CONNECTOR_GET);
	store_bind_text(st, 1, name);
	int rc = store_step(st);
	if (rc == 0) {
		st = store_query(e->st, Q_CONNECTOR_BY_TYPE);
		store_bind_text(st, 1, name);
		rc = store_step(st);
	}
	if (rc < 0)
		return core_store_fail(e, d, "connector");
	if (rc == 0)
		return ff_fail(d, FF_E_NOT_FOUND, NULL, "no connector %s", name);
	conf_from_row(e, st, out);
	return FF_OK;
}

/* "sk_test_abcdef1234" -> "sk_...1234"; short secrets show no characters at all. */
static json_t *mask(const char *s)
{
	char out[64];
	size_t l = strlen(s);
	const char *us = strchr(s, '_');
	int pl = us && us - s < 8 ? (int)(us - s + 1) : 0;
	if (l < 12)
		snprintf(out, sizeof(out), "%.*s...", pl, s);
	else
		snprintf(out, sizeof(out), "%.*s...%s", pl, s, s + l - 4);
	return json_string(out);
}

/* A URL value as reads show it: its password and password= parameters masked. */
static json_t *masked_url(const json_t *v)
{
	size_t n = 4 * json_string_length(v) + 16; /* room for every "****" */
	char *shown = ff_malloc(n);
	url_mask_secrets(json_string_value(v), shown, n);
	json_t *out = json_string(shown);
	free(shown);
	return out;
}

static json_t *conf_json(const struct connector_conf *c)
{
	const struct connector_ops *ops = connector_find(c->type);
	json_t *cfg = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(c->config, k, v)
	{
		if (ops && listed(k, ops->secret_fields)) {
			json_object_set_new(cfg, k, json_is_string(v) ? mask(json_string_value(v)) : json_string("..."));
		} else if (json_is_string(v) && strstr(json_string_value(v), "://")) {
			/* a password written into a URL field is not shown either */
			json_object_set_new(cfg, k, masked_url(v));
		} else {
			json_object_set(cfg, k, v);
		}
	}
	bool open = c->open_until > fftime_now();
	return json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:I, s:o}}", "id", c->id, "object", "connector", "type", c->type,
			 "config", cfg, "breaker", "state", open ? "open" : "closed", "failures",
			 (json_int_t)c->failures, "open_until", json_time(c->open_until, c->open_until > 0));
}

static enum ff_err validate(struct engine *e, const struct connector_ops *ops, json_t *cfg, json_t *old,
			    json_t **out_plain, json_t **out_secrets, struct ff_diag *d)
{
	json_t *plain = json_object(), *secrets = json_object();
	const char *k;
	json_t *v;
	enum ff_err err = FF_OK;
	char param[160];
	json_object_foreach(cfg, k, v)
	{
		snprintf(param, sizeof(param), "config.%s", k);
		bool secret = listed(k, ops->secret_fields);
		if (!secret && !listed(k, ops->config_fields) && !listed(k, common_fields)) {
			err = ff_fail(d, FF_E_UNKNOWN_FIELD, param, "unknown field %s for a %s connector", k, ops->name);
			goto out;
		}
		bool is_int = false;
		for (size_t i = 0; i < sizeof(int_fields) / sizeof(int_fields[0]); i++) {
			if (strcmp(int_fields[i].key, k))
				continue;
			is_int = true;
			if (!json_is_integer(v) || json_integer_value(v) < int_fields[i].lo ||
			    json_integer_value(v) > int_fields[i].hi) {
				err = ff_fail(d, FF_E_INVALID, param, "%s must be an integer from %lld to %lld", k,
					      (long long)int_fields[i].lo, (long long)int_fields[i].hi);
				goto out;
			}
		}
		if (!is_int && !json_is_string(v) && !json_is_boolean(v) && !json_is_integer(v)) {
			err = ff_fail(d, FF_E_INVALID, param, "%s must be a string", k);
			goto out;
		}
		if (json_is_string(v) && json_string_length(v) > 2000) {
			err = ff_fail(d, FF_E_INVALID, param, "%s is too long", k);
			goto out;
		}
		/* the smtp connector's relay is often on this machine or its network, so its
		 * address is not checked; its scheme is: libcurl would upload the message to
		 * any URL it speaks (file:// writes a file here, http:// reaches any address) */
		if (json_is_string(v) && !strcmp(k, "url") && !strcmp(ops->name, "smtp") &&
		    strncasecmp(json_string_value(v), "smtp://", 7) && strncasecmp(json_string_value(v), "smtps://", 8)) {
			err = ff_fail(d, FF_E_INVALID, param, "url must be an smtp:// or smtps:// URL");
			goto out;
		}
		/* the sender goes into MAIL FROM and the From header: an e-mail address, no line
		 * breaks (they would add SMTP commands or headers) */
		if (!strcmp(ops->name, "smtp") && !strcmp(k, "from")) {
			bool ok = json_is_string(v) && strchr(json_string_value(v), '@') &&
				  strlen(json_string_value(v)) == json_string_length(v);
			for (const unsigned char *c = (const unsigned char *)json_string_value(v); ok && *c; c++)
				ok = *c >= 0x20 && *c != 0x7f;
			if (!ok) {
				err = ff_fail(d, FF_E_INVALID, param, "from must be an e-mail address (\"Name <a@b>\" or a@b)");
				goto out;
			}
		}
		if (json_is_string(v) && (!strcmp(k, "base_url") || !strcmp(k, "url"))) {
			char pin[8], why[200];
			if (strcmp(ops->name, "smtp") &&
			    http_url_check(json_string_value(v), e->cfg.webhook_allow_hosts, pin, 0, why, sizeof(why)) == -1) {
				err = ff_fail(d, FF_E_INVALID, param, "%s", why);
				goto out;
			}
		}
		/* a URL sent back as a read showed it (its password masked) keeps the stored one */
		json_t *was = json_object_get(old, k);
		if (!secret && json_is_string(v) && json_is_string(was) && strstr(json_string_value(was), "://")) {
			json_t *shown = masked_url(was);
			if (json_equal(shown, v) && !json_equal(was, v))
				v = was;
			json_decref(shown);
		}
		json_object_set(secret ? secrets : plain, k, v);
	}
	/* a secret left out keeps its stored value (secrets are write-only) */
	for (const char *const *s = ops->secret_fields; s && *s; s++)
		if (!json_object_get(secrets, *s) && json_object_get(old, *s))
			json_object_set(secrets, *s, json_object_get(old, *s));
	for (const char *const *r = ops->required_fields; r && *r; r++) {
		if (!json_object_get(plain, *r) && !json_object_get(secrets, *r)) {
			snprintf(param, sizeof(param), "config.%s", *r);
			err = ff_fail(d, FF_E_INVALID, param, "a %s connector needs %s", ops->name, *r);
			goto out;
		}
	}
	/* Tremendous refuses an order that names neither products nor a campaign */
	if (!strcmp(ops->name, "giftcard") && !json_is_string(json_object_get(plain, "product_id")) &&
	    !json_is_string(json_object_get(plain, "campaign_id"))) {
		err = ff_fail(d, FF_E_INVALID, "config.product_id", "a giftcard connector needs product_id or campaign_id");
		goto out;
	}
	/* a signing secret must sign: a webhook connector never posts unsigned */
	const char *whsec = json_string_value(json_object_get(secrets, "secret"));
	char sig[128];
	if (!strcmp(ops->name, "webhook") && whsec &&
	    crypto_webhook_sign(whsec, "msg_check", 0, "{}", 2, sig, sizeof(sig)) != 0) {
		err = ff_fail(d, FF_E_INVALID, "config.secret",
			      "secret must be a Standard Webhooks secret: \"whsec_\" and the base64 of 24 to 64 bytes");
		goto out;
	}
out:
	if (err) {
		json_decref(plain);
		json_decref(secrets);
		return err;
	}
	*out_plain = plain;
	*out_secrets = secrets;
	return FF_OK;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);
	if (!n || n > 63)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-' || *p == '.'))
			return false;
	return true;
}

enum ff_err engine_connector_put(struct engine *e, const struct actor *a, const char *id, json_t *body,
				 json_t **out, struct ff_diag *d)
{
	if (!id_ok(id))
		return core_done(e, ff_fail(d, FF_E_INVALID, "id", "a connector id is 1-63 of [A-Za-z0-9_.-]"));
	if (!json_is_object(body))
		return core_done(e, ff_fail(d, FF_E_INVALID, NULL, "the body must be a JSON object"));
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v) if (strcmp(k, "type") && strcmp(k, "config")) return core_done(
		e, ff_fail(d, FF_E_UNKNOWN_FIELD, k, "unknown field %s", k));
	const char *type = json_string_value(json_object_get(body, "type"));
	const struct connector_ops *ops = type ? connector_find(type) : NULL;
	if (!ops || (!ops->external && strcmp(ops->name, "smtp")))
		return core_done(e, ff_fail(d, FF_E_INVALID, "type",
					    "type must be one of stripe, recurly, braintree, giftcard, webhook, smtp"));
	json_t *cfg = json_object_get(body, "config");
	if (cfg && !json_is_object(cfg))
		return core_done(e, ff_fail(d, FF_E_INVALID, "config", "config must be an object"));
	json_t *empty = json_object();
	enum ff_err err = core_begin(e, d);
	if (err) {
		json_decref(empty);
		return core_done(e, err);
	}
	struct connector_conf old;
	memset(&old, 0, sizeof(old));
	struct ff_diag ignore;
	bool had = false;
	struct store_stmt *st = store_query(e->st, Q_CONNECTOR_GET);
	store_bind_text(st, 1, id);
	if (store_step(st) == 1) {
		conf_from_row(e, st, &old);
		had = true;
		if (strcmp(old.type, type))
			json_object_clear(old.config); /* a new type keeps nothing */
	}
	(void)ignore;
	json_t *plain = NULL, *secrets = NULL;
	err = validate(e, ops, cfg ? cfg : empty, old.config, &plain, &secrets, d);
	if (err)
		goto end;
	char *plain_text = json_dumps(plain, JSON_COMPACT | JSON_SORT_KEYS);
	char *secret_text = json_dumps(secrets, JSON_COMPACT | JSON_SORT_KEYS);
	char *sealed = json_object_size(secrets) ? crypto_seal(e->cfg.master_key, secret_text) : NULL;
	int64_t now = fftime_now();
	st = store_query(e->st, Q_CONNECTOR_UPSERT);
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, type);
	store_bind_text(st, 3, plain_text);
	store_bind_text(st, 4, sealed);
	store_bind_int(st, 5, now);
	if (store_exec(st))
		err = core_store_fail(e, d, "connector");
	free(plain_text);
	free(secret_text);
	free(sealed);
	/* rewards waiting for this connector go now */
	const char *names[2] = {id, type};
	for (int i = 0; !err && i < 2; i++) {
		st = store_query(e->st, Q_REWARDS_UNHOLD_CONNECTOR);
		store_bind_int(st, 1, now);
		store_bind_text(st, 2, names[i]);
		if (store_exec(st))
			err = core_store_fail(e, d, "release held rewards");
	}
	if (!err) {
		json_t *fields = json_array();
		json_object_foreach(plain, k, v) json_array_append_new(fields, json_string(k));
		json_object_foreach(secrets, k, v) json_array_append_new(fields, json_string(k));
		json_t *detail = json_pack("{s:s, s:b, s:o}", "type", type, "created", !had, "fields", fields);
		err = audit_append(e, a->label, "connector.configured", id, detail, d);
		json_decref(detail);
	}
end:
	json_decref(plain);
	json_decref(secrets);
	json_decref(empty);
	connector_conf_release(&old);
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	return engine_connector_get(e, a, id, out, d);
}

enum ff_err engine_connector_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				 struct ff_diag *d)
{
	(void)a;
	struct store_stmt *st = store_query(e->st, Q_CONNECTOR_GET);
	store_bind_text(st, 1, id);
	int rc = store_step(st);
	if (rc < 0)
		return core_done(e, core_store_fail(e, d, "connector"));
	if (rc == 0)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no connector %s", id));
	struct connector_conf c;
	conf_from_row(e, st, &c);
	*out = conf_json(&c);
	connector_conf_release(&c);
	return core_done(e, FF_OK);
}

enum ff_err engine_connectors_list(struct engine *e, const struct actor *a, const struct page *p,
				   json_t **out, struct ff_diag *d)
{
	(void)a;
	int limit = page_limit(p);
	json_t *data = json_array();
	struct store_stmt *st = store_query(e->st, Q_CONNECTOR_LIST);
	store_bind_text(st, 1, p ? p->starting_after : NULL);
	store_bind_int(st, 2, limit + 1);
	int rc;
	while ((rc = store_step(st)) == 1) {
		struct connector_conf c;
		conf_from_row(e, st, &c);
		json_array_append_new(data, conf_json(&c));
		connector_conf_release(&c);
	}
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "connectors"));
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

enum ff_err engine_connector_delete(struct engine *e, const struct actor *a, const char *id, json_t **out,
				    struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct store_stmt *st = store_query(e->st, Q_CONNECTOR_DELETE);
	store_bind_text(st, 1, id);
	if (store_exec(st))
		err = core_store_fail(e, d, "connector");
	else if (store_changes(e->st) != 1)
		err = ff_fail(d, FF_E_NOT_FOUND, NULL, "no connector %s", id);
	if (!err)
		err = audit_append(e, a->label, "connector.deleted", id, NULL, d);
	err = core_end(e, err, d);
	if (!err)
		*out = json_pack("{s:s, s:s, s:b}", "id", id, "object", "connector", "deleted", 1);
	return core_done(e, err);
}
