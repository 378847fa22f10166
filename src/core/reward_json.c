/*
 * reward_json.c - the reward's API object (API.md "Reward"), from one table of its
 * members written two ways: as a jansson value (lists, webhooks, the CLI) and as JSON
 * text straight into a buffer (GET /v1/rewards/{id}, the hottest read). Both walk the
 * same table, so they cannot disagree; tests compare them byte for byte.
 */
#include <stddef.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/jsonw.h"

enum member_kind {
	M_OBJECT,   /* the constant "reward" */
	M_STR,	    /* a string, always */
	M_STR_NULL, /* a string, null when empty */
	M_STR_OMIT, /* a string, left out when empty */
	M_INT,	    /* an integer, always */
	M_INT_NULL, /* an integer, null unless its has_ flag */
	M_INT_OMIT, /* an integer, left out unless its has_ flag */
	M_TIME,	    /* a timestamp, always */
	M_TIME_NULL, /* a timestamp, null unless its has_ flag */
	M_JSON,	     /* stored JSON text, [] when empty */
};

#define NO_FIELD ((size_t)-1)

static const struct member {
	const char *name;
	enum member_kind kind;
	size_t at;   /* offset of the value in struct reward */
	size_t has;  /* offset of its has_ flag, or NO_FIELD */
	size_t when; /* offset of a string that must be non-empty for the member to appear */
} members[] = {
#define F(name, kind, has, when) {#name, kind, offsetof(struct reward, name), has, when}
#define HAS(flag) offsetof(struct reward, flag)
    F(id, M_STR, NO_FIELD, NO_FIELD),
    {"object", M_OBJECT, NO_FIELD, NO_FIELD, NO_FIELD},
    F(program, M_STR, NO_FIELD, NO_FIELD),
    F(program_version, M_INT, NO_FIELD, NO_FIELD),
    F(participant, M_STR, NO_FIELD, NO_FIELD),
    F(role, M_STR, NO_FIELD, NO_FIELD),
    F(referral, M_STR_NULL, NO_FIELD, NO_FIELD),
    F(conversion, M_STR_NULL, NO_FIELD, NO_FIELD),
    F(type, M_STR, NO_FIELD, NO_FIELD),
    F(amount, M_INT_NULL, HAS(has_amount), NO_FIELD),
    F(currency, M_STR_NULL, NO_FIELD, NO_FIELD),
    {"percent_bp", M_INT_NULL, offsetof(struct reward, percent_bp), HAS(has_percent), NO_FIELD},
    {"max_amount", M_INT_OMIT, offsetof(struct reward, max_amount), HAS(has_max), NO_FIELD},
    F(months, M_INT_OMIT, HAS(has_months), NO_FIELD),
    F(code, M_STR_NULL, NO_FIELD, NO_FIELD),
    F(pool, M_STR_OMIT, NO_FIELD, NO_FIELD),
    F(sku, M_STR_OMIT, NO_FIELD, NO_FIELD),
    F(quantity, M_INT_NULL, HAS(has_quantity), offsetof(struct reward, sku)),
    F(brand, M_STR_OMIT, NO_FIELD, NO_FIELD),
    F(status, M_STR, NO_FIELD, NO_FIELD),
    F(reason, M_STR_NULL, NO_FIELD, NO_FIELD),
    F(hold_until, M_TIME_NULL, HAS(has_hold), NO_FIELD),
    F(release_at, M_TIME_NULL, HAS(has_release), NO_FIELD),
    F(expires_at, M_TIME_NULL, HAS(has_expires), NO_FIELD),
    F(connector, M_STR, NO_FIELD, NO_FIELD),
    F(fulfiller, M_STR, NO_FIELD, NO_FIELD),
    F(external_reference, M_STR_NULL, NO_FIELD, NO_FIELD),
    F(batch, M_STR_NULL, NO_FIELD, NO_FIELD),
    F(signals, M_JSON, NO_FIELD, NO_FIELD),
    F(attempts, M_INT, NO_FIELD, NO_FIELD),
    F(last_error, M_STR_NULL, NO_FIELD, NO_FIELD),
    F(fulfilled_at, M_TIME_NULL, HAS(has_fulfilled), NO_FIELD),
    F(created_at, M_TIME, NO_FIELD, NO_FIELD),
    F(updated_at, M_TIME, NO_FIELD, NO_FIELD),
#undef HAS
#undef F
};

/* What one member of r is: whether it appears, and its value in one of three shapes. */
struct value {
	bool present, null;
	const char *str; /* M_OBJECT, M_STR*, M_JSON */
	int64_t num;	 /* M_INT*, M_TIME* */
};

static struct value member_value(const struct reward *r, const struct member *m)
{
	const char *base = (const char *)r;
	struct value v = {.present = true};
	if (m->when != NO_FIELD && !base[m->when])
		return (struct value){0};
	bool has = m->has == NO_FIELD || *(const bool *)(base + m->has);
	switch (m->kind) {
	case M_OBJECT:
		v.str = "reward";
		break;
	case M_STR:
	case M_STR_NULL:
	case M_STR_OMIT:
	case M_JSON:
		v.str = base + m->at;
		if (!*v.str) {
			v.present = m->kind != M_STR_OMIT;
			v.null = m->kind == M_STR_NULL;
			if (m->kind == M_JSON)
				v.str = "[]";
		}
		break;
	case M_INT:
	case M_INT_NULL:
	case M_INT_OMIT:
	case M_TIME:
	case M_TIME_NULL:
		v.num = *(const int64_t *)(base + m->at);
		v.present = has || m->kind != M_INT_OMIT;
		v.null = !has;
		break;
	}
	return v;
}

json_t *reward_json(const struct reward *r)
{
	json_t *o = json_object();
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		const struct member *m = &members[i];
		struct value v = member_value(r, m);
		if (!v.present)
			continue;
		json_t *j;
		if (v.null)
			j = json_null();
		else if (m->kind == M_JSON)
			j = json_from_text(v.str, "[]");
		else if (m->kind == M_TIME || m->kind == M_TIME_NULL)
			j = json_time(v.num, true);
		else if (m->kind == M_INT || m->kind == M_INT_NULL || m->kind == M_INT_OMIT)
			j = json_integer(v.num);
		else
			j = json_string(v.str);
		json_object_set_new(o, m->name, j);
	}
	return o;
}

void reward_write_members(struct jsonw *w, const struct reward *r)
{
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		const struct member *m = &members[i];
		struct value v = member_value(r, m);
		if (!v.present)
			continue;
		if (v.null)
			jsonw_null(w, m->name);
		else if (m->kind == M_JSON)
			jsonw_raw(w, m->name, v.str, strlen(v.str));
		else if (m->kind == M_TIME || m->kind == M_TIME_NULL)
			jsonw_time(w, m->name, v.num, true);
		else if (m->kind == M_INT || m->kind == M_INT_NULL || m->kind == M_INT_OMIT)
			jsonw_int(w, m->name, v.num);
		else
			jsonw_string(w, m->name, v.str);
	}
}
