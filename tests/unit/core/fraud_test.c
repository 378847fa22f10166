/*
 * fraud_test.c - fraud signals with positive and negative cases, per-program actions,
 * velocity windows at their edges, blocklists, bulk review with partial failures,
 * governance (simulate, two-person rule), the anomaly guard and master-key rotation.
 */
#include "core/fraud.h"
#include "engine_fixture.h"

static struct fx F;
static void setup(void) { fx_open(&F); }
static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

TestSuite(fraud, .init = setup, .fini = teardown);

#define SIMPLE(extra)                                                                             \
	"{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","        \
	"\"type\":\"credit\",\"amount\":1000},{\"to\":\"referred\",\"type\":\"credit\",\"amount\":500}]" \
	extra "}"

static void person(const char *id, const char *email, const char *extra)
{
	fx_ok(&F,
	      "{\"id\":\"p-%s\",\"type\":\"participant\",\"data\":{\"id\":\"%s\",\"email\":\"%s\",\"country\":\"US\"%s}}",
	      id, id, email, extra ? extra : "");
}

/* Ingest a referral and return its status and first signal name (static buffers). */
static const char *refer(const char *ref, const char *referrer, const char *referred, const char *extra,
			 const char **out_signal)
{
	static char status[32], signal[64];
	fx_ok(&F,
	      "{\"id\":\"r-%s\",\"type\":\"referral\",\"data\":{\"id\":\"%s\",\"program\":\"p\",\"referrer\":\"%s\","
	      "\"referred\":\"%s\"%s}}",
	      ref, ref, referrer, referred, extra ? extra : "");
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_referral_get(F.e, &F.cli, ref, &r, &d), FF_OK);
	snprintf(status, sizeof(status), "%s", json_string_value(json_object_get(r, "status")));
	json_t *s0 = json_array_get(json_object_get(r, "signals"), 0);
	snprintf(signal, sizeof(signal), "%s", s0 ? json_string_value(json_object_get(s0, "signal")) : "");
	json_decref(r);
	if (out_signal)
		*out_signal = signal;
	return status;
}

Test(fraud, self_referral_by_normalized_gmail)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "Ann.Smith@gmail.com", NULL);
	person("alt", "annsmith+promo@gmail.com", NULL);
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "alt", NULL, &sig), "rejected");
	cr_assert_str_eq(sig, "self_referral");
	/* the explanation says why and no reward ever comes */
	cr_assert_eq(fx_conversion(&F, "o1", "alt", 100), 0);
	json_t *x = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_referral_get(F.e, &F.cli, "r1", &x, &d), FF_OK);
	cr_assert_not_null(strstr(json_string_value(json_object_get(x, "rejection_reason")), "e-mail"));
	json_decref(x);
}

Test(fraud, similar_emails_of_different_people_are_not_self_referral)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "ann@example.com", NULL);
	person("annb", "ann.b@example.com", NULL);
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "annb", NULL, &sig), "pending");
	cr_assert_str_eq(sig, "");
	/* dots matter outside gmail */
	person("dot", "a.nn@example.com", NULL);
	cr_assert_str_eq(refer("r2", "ann", "dot", NULL, &sig), "pending");
}

Test(fraud, self_referral_by_device_and_ip)
{
	fx_program(&F, SIMPLE(",\"fraud\":{\"self_referral\":\"review\",\"self_referral_ip\":\"subnet\"}"));
	person("ann", "ann@example.com", ",\"device_id\":\"dev-1\",\"ip\":\"203.0.113.7\"");
	person("bob", "bob@example.com", NULL);
	person("cid", "cid@example.com", NULL);
	person("dan", "dan@example.com", NULL);
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "bob", ",\"device_id\":\"dev-1\"", &sig), "pending");
	cr_assert_str_eq(sig, "self_referral", "review, not reject, by this program's setting");
	cr_assert_str_eq(refer("r2", "ann", "cid", ",\"ip\":\"203.0.113.99\"", &sig), "pending");
	cr_assert_str_eq(sig, "self_referral", "same /24");
	cr_assert_str_eq(refer("r3", "ann", "dan", ",\"ip\":\"198.51.100.7\"", &sig), "pending");
	cr_assert_str_eq(sig, "");
	/* reviewed signals put the rewards in review, with the reason */
	cr_assert_eq(fx_conversion(&F, "o1", "bob", 100), 2);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "reason")), "review:self_referral");
	json_decref(rs);
	cr_assert_eq(fx_conversion(&F, "o3", "dan", 100), 2);
	rs = fx_rewards(&F, "approved", NULL);
	cr_assert_eq(json_array_size(rs), 2, "routine rewards never wait for a person");
	json_decref(rs);
}

Test(fraud, ip_helpers)
{
	cr_assert(fraud_ip_match("10.1.2.3", "10.1.2.200", true));
	cr_assert_not(fraud_ip_match("10.1.2.3", "10.1.3.3", true));
	cr_assert_not(fraud_ip_match("10.1.2.3", "10.1.2.4", false));
	cr_assert(fraud_ip_match("::ffff:10.1.2.3", "10.1.2.3", false), "IPv4-mapped IPv6 is the same address");
	cr_assert(fraud_ip_match("2001:db8::1", "2001:db8::2", true));
	cr_assert(fraud_cidr_contains("10.0.0.0/8", "10.200.1.1"));
	cr_assert_not(fraud_cidr_contains("10.0.0.0/8", "11.0.0.1"));
	cr_assert(fraud_cidr_contains("2001:db8::/32", "2001:db8:ffff::1"));
	cr_assert(fraud_cidr_contains("192.0.2.1", "192.0.2.1"));
	cr_assert_not(fraud_cidr_valid("10.0.0.0/33"));
	cr_assert_not(fraud_cidr_valid("banana"));
	cr_assert(fraud_cidr_valid("::/0"));
}

Test(fraud, existing_customer_and_duplicates)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "ann@example.com", NULL);
	person("mark", "mark@example.com", NULL);
	person("old", "old@example.com", NULL);
	fx_ok(&F, "{\"id\":\"c0\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-01T00:00:00Z\",\"data\":{\"id\":\"o0\","
		  "\"participant\":\"old\",\"amount\":100,\"currency\":\"USD\"}}");
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "old", NULL, &sig), "pending");
	cr_assert_str_eq(sig, "existing_customer");
	/* same pair again: rejected by default */
	person("bob", "bob@example.com", NULL);
	cr_assert_str_eq(refer("r2", "ann", "bob", NULL, &sig), "pending");
	cr_assert_str_eq(refer("r3", "ann", "bob", NULL, &sig), "rejected");
	cr_assert_str_eq(sig, "duplicate_referral");
	/* a competing referral by someone else is not fraud ... */
	cr_assert_str_eq(refer("r4", "mark", "bob", NULL, &sig), "pending");
	cr_assert_str_eq(sig, "");
	/* ... until bob's referral succeeded: then it is a duplicate */
	fx_conversion(&F, "o1", "bob", 100);
	person("zed", "zed@example.com", NULL);
	cr_assert_str_eq(refer("r5", "zed", "bob", NULL, &sig), "rejected");
	cr_assert_str_eq(sig, "duplicate_referral");
}

/* One mailbox is one person: a second participant id with the same normalized e-mail
 * is no way around duplicate_referral, and a referral-triggered program does not pay
 * the same person twice. */
Test(fraud, duplicate_referral_sees_a_second_identity_of_the_same_mailbox)
{
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"trigger\":\"referral\",\"rewards\":["
		       "{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":500},{\"to\":\"referred\",\"type\":"
		       "\"credit\",\"amount\":500}]}");
	person("ann", "ann@example.com", NULL);
	person("mark", "mark@example.com", NULL);
	person("bob", "bob@gmail.com", NULL);
	person("bob2", "B.o.b+promo@gmail.com", NULL);
	person("bob3", "bob+x@gmail.com", NULL);
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "bob", NULL, &sig), "successful");
	/* someone else refers bob's second identity: bob's referral already succeeded */
	cr_assert_str_eq(refer("r2", "mark", "bob2", NULL, &sig), "rejected");
	cr_assert_str_eq(sig, "duplicate_referral");
	/* the same referrer again, through a third identity */
	cr_assert_str_eq(refer("r3", "ann", "bob3", NULL, &sig), "rejected");
	cr_assert_str_eq(sig, "duplicate_referral");
	cr_assert_eq(fx_count_status(&F, "approved"), 2, "one pair of rewards only");
	/* different mailboxes stay different people */
	person("bobby", "bobby@gmail.com", NULL);
	cr_assert_str_eq(refer("r4", "mark", "bobby", NULL, &sig), "successful");
}

/* The outcome and first signal of conversion `conv`'s explanation (static buffers). */
static const char *conversion_outcome(const char *conv, const char **out_signal)
{
	static char outcome[32], signal[64];
	json_t *x = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_explain(F.e, &F.cli, conv, &x, &d), FF_OK, "%s", d.message);
	json_t *ex = json_object_get(x, "explanation");
	snprintf(outcome, sizeof(outcome), "%s", json_string_value(json_object_get(ex, "outcome")));
	json_t *s0 = json_array_get(json_object_get(ex, "signals"), 0);
	snprintf(signal, sizeof(signal), "%s", s0 ? json_string_value(json_object_get(s0, "signal")) : "");
	json_decref(x);
	*out_signal = signal;
	return outcome;
}

/* Self-referral is judged again when rewards are made: a referred person who took the
 * referrer's mailbox (or device, or IP) after the referral earns nothing. */
Test(fraud, self_referral_learnt_after_the_referral_is_caught_at_conversion)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "Ann@example.com", ",\"device_id\":\"dev-ann\",\"ip\":\"203.0.113.7\"");
	person("bob", "bob@example.com", NULL);
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "bob", NULL, &sig), "pending");
	cr_assert_str_eq(sig, "");
	/* bob now has ann's address (normalized: case, +tag) */
	fx_ok(&F, "{\"id\":\"p-bob-2\",\"type\":\"participant\",\"data\":{\"id\":\"bob\",\"email\":\"ann+x@example.com\"}}");
	cr_assert_eq(fx_conversion(&F, "o1", "bob", 100), 0, "a self-referral never pays (reject by default)");
	cr_assert_str_eq(conversion_outcome("o1", &sig), "rejected");
	cr_assert_str_eq(sig, "self_referral");
	cr_assert_eq(fx_count_status(&F, "approved") + fx_count_status(&F, "review"), 0);

	/* a device seen on both since the referral: by this program's setting, review */
	fx_program(&F, SIMPLE(",\"fraud\":{\"self_referral\":\"review\"}"));
	person("cid", "cid@example.com", NULL);
	person("dan", "dan@example.com", NULL);
	cr_assert_str_eq(refer("r2", "ann", "cid", NULL, &sig), "pending");
	cr_assert_str_eq(refer("r3", "ann", "dan", NULL, &sig), "pending");
	fx_ok(&F, "{\"id\":\"p-cid-2\",\"type\":\"participant\",\"data\":{\"id\":\"cid\",\"device_id\":\"dev-ann\"}}");
	fx_ok(&F, "{\"id\":\"p-dan-2\",\"type\":\"participant\",\"data\":{\"id\":\"dan\",\"ip\":\"203.0.113.7\"}}");
	cr_assert_eq(fx_conversion(&F, "o2", "cid", 100), 2);
	cr_assert_eq(fx_conversion(&F, "o3", "dan", 100), 2);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 4);
	size_t i;
	json_t *r;
	json_array_foreach(rs, i, r)
	{
		cr_assert_str_eq(json_string_value(json_object_get(r, "reason")), "review:self_referral");
		json_t *s0 = json_array_get(json_object_get(r, "signals"), 0);
		cr_assert_str_eq(json_string_value(json_object_get(s0, "signal")), "self_referral");
	}
	json_decref(rs);
	/* an unrelated friend is not touched */
	person("eve", "eve@example.com", NULL);
	cr_assert_str_eq(refer("r4", "ann", "eve", NULL, &sig), "pending");
	cr_assert_eq(fx_conversion(&F, "o4", "eve", 100), 2);
	cr_assert_eq(fx_count_status(&F, "approved"), 2);
}

/* Two participant ids of one mailbox, each referred while the e-mail of the second was
 * not known yet: the person's second conversion does not pay a second referral. */
Test(fraud, second_identity_of_a_mailbox_does_not_pay_twice)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "ann@example.com", NULL);
	person("mark", "mark@example.com", NULL);
	person("bob", "bob@gmail.com", NULL);
	fx_ok(&F, "{\"id\":\"p-bob2\",\"type\":\"participant\",\"data\":{\"id\":\"bob2\",\"country\":\"US\"}}");
	fx_ok(&F, "{\"id\":\"p-bob3\",\"type\":\"participant\",\"data\":{\"id\":\"bob3\",\"country\":\"US\"}}");
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "bob", NULL, &sig), "pending");
	cr_assert_str_eq(refer("r2", "mark", "bob2", NULL, &sig), "pending");
	cr_assert_str_eq(refer("r3", "ann", "bob3", NULL, &sig), "pending");
	cr_assert_str_eq(sig, "", "nothing tied bob2 and bob3 to bob yet");
	/* now they turn out to be bob's mailbox */
	fx_ok(&F, "{\"id\":\"p-bob2-2\",\"type\":\"participant\",\"data\":{\"id\":\"bob2\",\"email\":\"B.o.b+promo@gmail.com\"}}");
	fx_ok(&F, "{\"id\":\"p-bob3-2\",\"type\":\"participant\",\"data\":{\"id\":\"bob3\",\"email\":\"bob+x@gmail.com\"}}");
	cr_assert_eq(fx_conversion(&F, "o1", "bob2", 100), 2, "the person's first purchase pays");
	cr_assert_eq(fx_conversion(&F, "o2", "bob", 100), 0, "another referrer, the same person");
	cr_assert_str_eq(conversion_outcome("o2", &sig), "rejected");
	cr_assert_str_eq(sig, "duplicate_referral");
	cr_assert_eq(fx_conversion(&F, "o3", "bob3", 100), 0, "the same referrer, the same person");
	cr_assert_str_eq(conversion_outcome("o3", &sig), "rejected");
	cr_assert_str_eq(sig, "duplicate_referral");
	cr_assert_eq(fx_count_status(&F, "approved"), 2, "one pair of rewards only");
	/* the rewarded referral keeps paying its own person's later purchases */
	cr_assert_eq(fx_conversion(&F, "o4", "bob2", 100), 2);
	/* a program that reviews duplicates sends them to a person instead */
	fx_program(&F, SIMPLE(",\"fraud\":{\"duplicate_referral\":\"review\"}"));
	cr_assert_eq(fx_conversion(&F, "o5", "bob", 100), 2);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "reason")), "review:duplicate_referral");
	json_decref(rs);
}

/* "Already a customer" is judged again when rewards are made: a purchase from before
 * the referral delivered after it, or one under another id of the same mailbox. */
Test(fraud, existing_customer_learnt_after_the_referral_is_caught_at_conversion)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "ann@example.com", NULL);
	person("bob", "bob@example.com", NULL);
	fx_ok(&F, "{\"id\":\"r-r1\",\"type\":\"referral\",\"occurred_at\":\"2026-09-10T00:00:00Z\",\"data\":{\"id\":\"r1\","
		  "\"program\":\"p\",\"referrer\":\"ann\",\"referred\":\"bob\"}}");
	/* bob's purchase of the 5th arrives after the referral: it earns nothing itself */
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c0\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-05T00:00:00Z\",\"data\":"
			       "{\"id\":\"o0\",\"participant\":\"bob\",\"amount\":100,\"currency\":\"USD\"}}"),
		     0);
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c1\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-20T00:00:00Z\",\"data\":"
			       "{\"id\":\"o1\",\"participant\":\"bob\",\"amount\":100,\"currency\":\"USD\"}}"),
		     2);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 2, "bob was a customer before ann referred him");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "reason")), "review:existing_customer");
	json_decref(rs);

	/* carl bought as one id; a second id, referred before its e-mail was known */
	person("carl", "carl@example.com", NULL);
	fx_ok(&F, "{\"id\":\"c2\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-01T00:00:00Z\",\"data\":"
		  "{\"id\":\"o2\",\"participant\":\"carl\",\"amount\":100,\"currency\":\"USD\"}}");
	fx_ok(&F, "{\"id\":\"p-carl2\",\"type\":\"participant\",\"data\":{\"id\":\"carl2\",\"country\":\"US\"}}");
	fx_ok(&F, "{\"id\":\"r-r2\",\"type\":\"referral\",\"occurred_at\":\"2026-09-10T00:00:00Z\",\"data\":{\"id\":\"r2\","
		  "\"program\":\"p\",\"referrer\":\"ann\",\"referred\":\"carl2\"}}");
	fx_ok(&F, "{\"id\":\"p-carl2-2\",\"type\":\"participant\",\"data\":{\"id\":\"carl2\",\"email\":\"Carl+new@example.com\"}}");
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c3\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-20T00:00:00Z\",\"data\":"
			       "{\"id\":\"o3\",\"participant\":\"carl2\",\"amount\":100,\"currency\":\"USD\"}}"),
		     2);
	cr_assert_eq(fx_count_status(&F, "review"), 4);
	/* at the referral too, a known second id of the mailbox is the same customer */
	person("erin", "erin@example.com", NULL);
	fx_ok(&F, "{\"id\":\"c5\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-01T00:00:00Z\",\"data\":"
		  "{\"id\":\"o5\",\"participant\":\"erin\",\"amount\":100,\"currency\":\"USD\"}}");
	person("erin2", "erin+2@example.com", NULL);
	const char *sig;
	cr_assert_str_eq(refer("r3", "ann", "erin2", NULL, &sig), "pending");
	cr_assert_str_eq(sig, "existing_customer");
	/* a new customer is not touched */
	person("dora", "dora@example.com", NULL);
	cr_assert_str_eq(refer("r4", "ann", "dora", NULL, &sig), "pending");
	cr_assert_eq(fx_conversion(&F, "o4", "dora", 100), 2);
	cr_assert_eq(fx_count_status(&F, "approved"), 2);
	/* a referral sent without occurred_at (its ingest time) credited with a purchase
	 * made a minute before: that purchase does not make a customer of its own friend */
	person("finn", "finn@example.com", NULL);
	cr_assert_str_eq(refer("r5", "ann", "finn", NULL, &sig), "pending");
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c6\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-30T23:59:00Z\","
			       "\"data\":{\"id\":\"o6\",\"participant\":\"finn\",\"amount\":100,\"currency\":\"USD\"}}"),
		     2);
	cr_assert_eq(fx_conversion(&F, "o7", "finn", 100), 2);
	cr_assert_eq(fx_count_status(&F, "approved"), 6, "finn's second purchase is routine");
}

Test(fraud, velocity_window_edges)
{
	fx_program(&F, SIMPLE(",\"fraud\":{\"velocity_max\":2,\"velocity_window_hours\":1}"));
	person("ann", "ann@example.com", NULL);
	const char *times[] = {"2026-10-01T10:00:00Z", "2026-10-01T10:30:00Z", "2026-10-01T10:59:59Z",
			       "2026-10-01T11:30:00Z", "2026-10-01T11:59:58.999Z"};
	const char *expect[] = {"", "", "velocity", "", "velocity"};
	for (int i = 0; i < 5; i++) {
		char ref[24], who[24];
		snprintf(ref, sizeof(ref), "r%d", i);
		snprintf(who, sizeof(who), "f%d", i);
		fx_ok(&F,
		      "{\"id\":\"e%d\",\"type\":\"referral\",\"occurred_at\":\"%s\",\"data\":{\"id\":\"%s\",\"program\":\"p\","
		      "\"referrer\":\"ann\",\"referred\":\"%s\"}}",
		      i, times[i], ref, who);
		json_t *r = NULL;
		struct ff_diag d;
		cr_assert_eq(engine_referral_get(F.e, &F.cli, ref, &r, &d), FF_OK);
		json_t *s0 = json_array_get(json_object_get(r, "signals"), 0);
		cr_assert_str_eq(s0 ? json_string_value(json_object_get(s0, "signal")) : "", expect[i], "referral %d", i);
		json_decref(r);
	}
}

Test(fraud, blocklist_entries)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "ann@example.com", NULL);
	person("bad", "Bad.Guy+x@gmail.com", NULL);
	person("spam", "x@spam.example", NULL);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "email", "badguy@gmail.com", "chargebacks", &out, &d), FF_OK,
		     "%s", d.message);
	json_decref(out);
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "domain", "SPAM.example", NULL, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "ip", "198.51.100.0/24", NULL, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "ip", "300.1.1.1", NULL, &out, &d), FF_E_INVALID);
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "colour", "red", NULL, &out, &d), FF_E_INVALID);
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "bad", NULL, &sig), "rejected");
	cr_assert_str_eq(sig, "blocklist");
	cr_assert_str_eq(refer("r2", "ann", "spam", NULL, &sig), "rejected");
	person("ok", "ok@example.com", NULL);
	cr_assert_str_eq(refer("r3", "ann", "ok", ",\"ip\":\"198.51.100.20\"", &sig), "rejected");
	person("ok2", "ok2@example.com", NULL);
	cr_assert_str_eq(refer("r4", "ann", "ok2", ",\"ip\":\"198.51.101.20\"", &sig), "pending");
	cr_assert_eq(engine_blocklist_list(F.e, &F.cli, &out, &d), FF_OK);
	cr_assert_eq(json_array_size(json_object_get(out, "data")), 3);
	json_decref(out);
	/* an entry added after the referral still stops the reward */
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "email", "ok2@example.com", NULL, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(fx_conversion(&F, "o4", "ok2", 100), 0);
	cr_assert_eq(engine_blocklist_delete(F.e, &F.cli, "domain", "spam.example", &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_blocklist_delete(F.e, &F.cli, "domain", "spam.example", &out, &d), FF_E_NOT_FOUND);
}

/* A participant whose status is `blocked` counts as blocklisted, at the referral and
 * when rewards are made (blocked after the referral). */
Test(fraud, blocked_participants_earn_nothing)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "ann@example.com", NULL);
	person("bob", "bob@example.com", NULL);
	person("cid", "cid@example.com", ",\"status\":\"blocked\"");
	const char *sig;
	cr_assert_str_eq(refer("r1", "ann", "bob", NULL, &sig), "pending");
	cr_assert_str_eq(refer("r2", "ann", "cid", NULL, &sig), "rejected");
	cr_assert_str_eq(sig, "blocklist");
	fx_ok(&F, "{\"id\":\"p-ann-2\",\"type\":\"participant\",\"data\":{\"id\":\"ann\",\"status\":\"blocked\"}}");
	cr_assert_eq(fx_conversion(&F, "o1", "bob", 100), 0, "the referrer was blocked since the referral");
	cr_assert_str_eq(conversion_outcome("o1", &sig), "rejected");
	cr_assert_str_eq(sig, "blocklist");
	/* by the program's setting, review instead */
	fx_program(&F, SIMPLE(",\"fraud\":{\"blocklist\":\"review\"}"));
	cr_assert_eq(fx_conversion(&F, "o2", "bob", 100), 2);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "reason")), "review:blocklist");
	json_decref(rs);
	/* unblocked: routine again */
	fx_ok(&F, "{\"id\":\"p-ann-3\",\"type\":\"participant\",\"data\":{\"id\":\"ann\",\"status\":\"active\"}}");
	person("dan", "dan@example.com", NULL);
	cr_assert_str_eq(refer("r3", "ann", "dan", NULL, &sig), "pending");
	cr_assert_eq(fx_conversion(&F, "o3", "dan", 100), 2);
	cr_assert_eq(fx_count_status(&F, "approved"), 2);
}

Test(fraud, payout_threshold_reviews)
{
	fx_program(&F, SIMPLE(",\"fraud\":{\"payout_threshold_amount\":1500}"));
	person("ann", "ann@example.com", NULL);
	refer("r1", "ann", "b1", NULL, NULL);
	refer("r2", "ann", "b2", NULL, NULL);
	fx_conversion(&F, "o1", "b1", 100);
	fx_conversion(&F, "o2", "b2", 100);
	json_t *mine = fx_rewards(&F, NULL, "ann");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(mine, 0), "status")), "approved");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(mine, 1), "reason")), "review:payout_threshold");
	json_decref(mine);
}

Test(fraud, bulk_review_partial_failures)
{
	fx_program(&F, SIMPLE(",\"review\":{\"always\":true}"));
	person("ann", "ann@example.com", NULL);
	refer("r1", "ann", "b1", NULL, NULL);
	fx_conversion(&F, "o1", "b1", 100);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 2);
	json_t *approve = json_pack("[O, s]", json_object_get(json_array_get(rs, 0), "id"), "rwd_missing");
	json_t *reject = json_pack("[O]", json_object_get(json_array_get(rs, 1), "id"));
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_rewards_review(F.e, &F.cli, approve, reject, "looks fake", &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "approved")), 1);
	cr_assert_eq(json_integer_value(json_object_get(out, "rejected")), 1);
	cr_assert_eq(json_integer_value(json_object_get(out, "failed")), 1);
	json_t *bad = json_array_get(json_object_get(out, "results"), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(bad, "error"), "code")), "not_found");
	json_decref(out);
	/* deciding again is an invalid transition, reported per id */
	cr_assert_eq(engine_rewards_review(F.e, &F.cli, approve, NULL, NULL, &out, &d), FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(out, "failed")), 2);
	json_decref(out);
	json_decref(approve);
	json_decref(reject);
	json_decref(rs);
	json_t *empty = json_array();
	cr_assert_eq(engine_rewards_review(F.e, &F.cli, empty, NULL, NULL, &out, &d), FF_E_INVALID);
	json_decref(empty);
}

Test(fraud, two_person_rule_and_versions)
{
	struct actor alice = {.role = ROLE_ADMIN}, bob = {.role = ROLE_ADMIN};
	snprintf(alice.label, sizeof(alice.label), "key:alice");
	snprintf(bob.label, sizeof(bob.label), "key:bob");
	json_t *doc = json_loads(SIMPLE(""), 0, NULL), *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_put(F.e, &alice, "p", doc, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	cr_assert_eq(engine_program_activate(F.e, &alice, "p", 1, &out, &d), FF_E_VERSION_NOT_APPROVED);
	cr_assert_eq(engine_program_approve(F.e, &alice, "p", 1, &out, &d), FF_E_SAME_AUTHOR);
	cr_assert_eq(engine_program_approve(F.e, &bob, "p", 1, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	cr_assert_eq(engine_program_activate(F.e, &alice, "p", 1, &out, &d), FF_OK);
	json_decref(out);
	/* a cosmetic change may be approved by its author */
	json_object_set_new(doc, "name", json_string("Renamed"));
	cr_assert_eq(engine_program_put(F.e, &alice, "p", doc, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_program_approve(F.e, &alice, "p", 2, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	/* an amount change may not */
	json_object_set_new(json_array_get(json_object_get(doc, "rewards"), 0), "amount", json_integer(100000));
	cr_assert_eq(engine_program_put(F.e, &alice, "p", doc, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_program_approve(F.e, &alice, "p", 3, &out, &d), FF_E_SAME_AUTHOR);
	cr_assert_eq(engine_program_diff(F.e, &alice, "p", 1, 3, &out, &d), FF_OK);
	json_t *changes = json_object_get(out, "changes");
	cr_assert_eq(json_array_size(changes), 2);
	cr_assert(json_is_true(json_object_get(out, "changes_economics")));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(changes, 1), "path")), "/rewards/0/amount");
	json_decref(out);
	cr_assert_eq(engine_program_rollback(F.e, &alice, "p", 3, &out, &d), FF_E_VERSION_NOT_APPROVED);
	cr_assert_eq(engine_program_rollback(F.e, &alice, "p", 1, &out, &d), FF_E_CONFLICT, "1 is already active");
	cr_assert_eq(engine_program_activate(F.e, &alice, "p", 2, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_program_rollback(F.e, &alice, "p", 1, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "active_version")), 1);
	json_decref(out);
	json_decref(doc);
	/* bad documents name the field */
	json_t *bad = json_loads("{\"id\":\"p\",\"name\":\"x\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
				 "\"type\":\"credit\",\"amout\":1}]}",
				 0, NULL);
	cr_assert_eq(engine_program_put(F.e, &alice, "p", bad, &out, &d), FF_E_UNKNOWN_FIELD);
	cr_assert_str_eq(d.param, "rewards[0].amout");
	json_decref(bad);
}

/* A document that compiles but could never work as written is refused when saved,
 * with the field at fault. */
Test(fraud, programs_that_cannot_work_are_refused)
{
	static const struct {
		const char *doc, *param;
	} bad[] = {
	    /* the literal null is false: nobody would ever qualify */
	    {"{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"eligibility\":null,\"rewards\":[{\"to\":"
	     "\"referrer\",\"type\":\"credit\",\"amount\":1000}]}",
	     "eligibility"},
	    /* a percentage of a purchase that a referral does not have: always 0 */
	    {"{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"trigger\":\"referral\",\"rewards\":[{\"to\":"
	     "\"referrer\",\"type\":\"credit\",\"percent_bp\":1000}]}",
	     "rewards[0].percent_bp"},
	    {"{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"trigger\":\"referral\",\"rewards\":[{\"to\":"
	     "\"referrer\",\"type\":\"credit\",\"amount\":100}],\"tiers\":[{\"from\":3,\"to\":\"referred\",\"type\":"
	     "\"credit\",\"percent_bp\":500}]}",
	     "tiers[0].percent_bp"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *doc = json_loads(bad[i].doc, 0, NULL), *out = NULL;
		struct ff_diag d;
		cr_assert_not_null(doc);
		cr_assert_eq(engine_program_put(F.e, &F.cli, "p", doc, &out, &d), FF_E_INVALID, "%zu", i);
		cr_assert_str_eq(d.param, bad[i].param);
		json_decref(doc);
	}
	/* what works stays allowed: no eligibility at all, a percentage on conversions */
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"percent_bp\":1000}]}");
	fx_program(&F, "{\"id\":\"s\",\"name\":\"S\",\"currency\":\"USD\",\"trigger\":\"referral\",\"rewards\":"
		       "[{\"to\":\"referrer\",\"type\":\"percent_discount\",\"percent_bp\":1000,\"pool\":\"x\"}]}");
}

Test(fraud, simulate_matches_real_ingest_on_the_active_version)
{
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"
		       "\"conversion.amount\"},5000]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000},"
		       "{\"to\":\"referred\",\"type\":\"credit\",\"percent_bp\":1000}],\"tiers\":[{\"from\":2,\"to\":"
		       "\"referrer\",\"type\":\"credit\",\"amount\":2500}],\"limits\":{\"referrer_rewards_per_year\":3}}");
	person("ann", "ann@example.com", NULL);
	long long amounts[] = {6000, 4000, 7000, 9000, 12000, 5000};
	for (int i = 0; i < 6; i++) {
		char ref[24], who[24], o[24];
		snprintf(ref, sizeof(ref), "r%d", i);
		snprintf(who, sizeof(who), "f%d", i);
		snprintf(o, sizeof(o), "o%d", i);
		refer(ref, "ann", who, NULL, NULL);
		fftime_set_now(T0 + i * 1000);
		fx_conversion(&F, o, who, amounts[i]);
	}
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_simulate(F.e, &F.cli, "p", 1, T0 - DAY, T0 + DAY, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "conversions")), 6);
	cr_assert(json_equal(json_object_get(out, "simulated"), json_object_get(out, "actual")), "%s",
		  json_dumps(out, 0));
	cr_assert_eq(json_array_size(json_object_get(out, "changes")), 0);
	json_decref(out);
	/* a draft with a different amount shows the difference, and nothing is stored */
	json_t *doc = NULL;
	cr_assert_eq(engine_program_version(F.e, &F.cli, "p", 1, &doc, &d), FF_OK);
	json_t *v2 = json_deep_copy(json_object_get(doc, "document"));
	json_decref(doc);
	json_object_set_new(json_array_get(json_object_get(v2, "rewards"), 0), "amount", json_integer(1500));
	cr_assert_eq(engine_program_put(F.e, &F.cli, "p", v2, &out, &d), FF_OK);
	json_decref(out);
	json_decref(v2);
	json_t *before = fx_rewards(&F, NULL, NULL);
	cr_assert_eq(engine_program_simulate(F.e, &F.cli, "p", 2, T0 - DAY, T0 + DAY, &out, &d), FF_OK, "%s", d.message);
	cr_assert_not(json_equal(json_object_get(out, "simulated"), json_object_get(out, "actual")));
	cr_assert_gt(json_array_size(json_object_get(out, "changes")), 0);
	json_decref(out);
	json_t *after = fx_rewards(&F, NULL, NULL);
	cr_assert(json_equal(before, after), "simulation leaves no trace");
	json_decref(before);
	json_decref(after);
}

/* A draft that reads stats the active version did not (so the stored contexts lack
 * them) is simulated with the stats as they stood at each conversion, as real ingest
 * would have seen them: not counting the conversion itself, later purchases or later
 * successful referrals. Program q, the draft made active, is the real ingest. */
Test(fraud, simulate_computes_missing_stats_as_they_stood)
{
	static const char *const v2 = "\"currency\":\"USD\",\"eligibility\":{\"==\":[{\"var\":"
				      "\"stats.referred_prior_conversions\"},0]},\"rewards\":[{\"to\":\"referrer\",\"type\":"
				      "\"credit\",\"amount\":1000}],\"tiers\":[{\"from\":2,\"to\":\"referrer\",\"type\":"
				      "\"credit\",\"amount\":2500}]}";
	char doc[1024];
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000}]}");
	snprintf(doc, sizeof(doc), "{\"id\":\"q\",\"name\":\"Q\",%s", v2);
	fx_program(&F, doc);
	person("ann", "ann@example.com", NULL);
	person("bob", "bob@example.com", NULL);
	for (int i = 0; i < 3; i++) {
		fftime_set_now(T0 + i * 10000);
		fx_ok(&F, "{\"id\":\"rp%d\",\"type\":\"referral\",\"data\":{\"id\":\"rp%d\",\"program\":\"p\","
			  "\"referrer\":\"ann\",\"referred\":\"f%d\"}}", i, i, i);
		fx_ok(&F, "{\"id\":\"rq%d\",\"type\":\"referral\",\"data\":{\"id\":\"rq%d\",\"program\":\"q\","
			  "\"referrer\":\"bob\",\"referred\":\"g%d\"}}", i, i, i);
		for (int k = 0; k < 2; k++) { /* a first and a second purchase each */
			fftime_set_now(T0 + i * 10000 + 1000 + k * 1000);
			char o[32], who[16];
			snprintf(o, sizeof(o), "op%d_%d", i, k);
			snprintf(who, sizeof(who), "f%d", i);
			fx_conversion(&F, o, who, 5000);
			snprintf(o, sizeof(o), "oq%d_%d", i, k);
			snprintf(who, sizeof(who), "g%d", i);
			fx_conversion(&F, o, who, 5000);
		}
	}
	/* real ingest under the draft's rules: three first purchases, 10 + 25 + 25 */
	json_t *bob = fx_rewards(&F, NULL, "bob");
	int64_t real = 0;
	size_t i;
	json_t *each;
	json_array_foreach(bob, i, each) real += json_integer_value(json_object_get(each, "amount"));
	cr_assert_eq(json_array_size(bob), 3);
	cr_assert_eq(real, 6000);
	json_decref(bob);
	/* the same rules as a draft of p, simulated over p's history */
	snprintf(doc, sizeof(doc), "{\"id\":\"p\",\"name\":\"P\",%s", v2);
	json_t *d2 = json_loads(doc, 0, NULL), *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_put(F.e, &F.cli, "p", d2, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	json_decref(d2);
	cr_assert_eq(engine_program_simulate(F.e, &F.cli, "p", 2, T0 - DAY, T0 + DAY, &out, &d), FF_OK, "%s", d.message);
	json_t *sim = json_object_get(out, "simulated");
	cr_assert_eq(json_integer_value(json_object_get(sim, "rewards")), 3, "%s", json_dumps(out, 0));
	json_t *usd = json_array_get(json_object_get(sim, "amounts"), 0);
	cr_assert_eq(json_integer_value(json_object_get(usd, "amount")), real, "%s", json_dumps(out, 0));
	json_decref(out);
}

Test(fraud, anomaly_guard_catches_a_mistyped_amount)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "ann@example.com", NULL);
	for (int i = 0; i < 3; i++) {
		char ref[24], who[24], o[24];
		snprintf(ref, sizeof(ref), "a%d", i);
		snprintf(who, sizeof(who), "g%d", i);
		snprintf(o, sizeof(o), "oa%d", i);
		refer(ref, "ann", who, NULL, NULL);
		fx_conversion(&F, o, who, 100);
	}
	/* version 2: the referrer amount typed x100 */
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\",\"type\":"
		       "\"credit\",\"amount\":100000},{\"to\":\"referred\",\"type\":\"credit\",\"amount\":500}]}");
	refer("b0", "ann", "h0", NULL, NULL);
	fx_conversion(&F, "ob0", "h0", 100);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "reason")), "review:anomaly");
	json_decref(rs);
	/* the anomaly is audited */
	json_t *au = NULL;
	struct ff_diag d;
	struct page pg = {.limit = 1000};
	cr_assert_eq(engine_audit_list(F.e, &F.cli, &pg, &au, &d), FF_OK);
	char *text = json_dumps(au, 0);
	cr_assert_not_null(strstr(text, "program.anomaly"));
	free(text);
	json_decref(au);
}

Test(fraud, anomaly_guard_can_roll_back)
{
	fx_program(&F, SIMPLE(",\"anomaly\":{\"action\":\"rollback\"}"));
	person("ann", "ann@example.com", NULL);
	refer("a0", "ann", "g0", NULL, NULL);
	fx_conversion(&F, "oa0", "g0", 100);
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"anomaly\":{\"action\":\"rollback\"},"
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":100000}]}");
	refer("b0", "ann", "h0", NULL, NULL);
	fx_conversion(&F, "ob0", "h0", 100);
	json_t *p = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_get(F.e, &F.cli, "p", &p, &d), FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(p, "active_version")), 1, "rolled back automatically");
	json_decref(p);
	refer("c0", "ann", "k0", NULL, NULL);
	fx_conversion(&F, "oc0", "k0", 100);
	json_t *mine = fx_rewards(&F, NULL, "ann");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(mine, 2), "amount")), 1000);
	json_decref(mine);
}

Test(fraud, master_key_rotation_resumes)
{
	fx_program(&F, SIMPLE(""));
	for (int i = 0; i < 30; i++) {
		char id[24], email[32];
		snprintf(id, sizeof(id), "u%d", i);
		snprintf(email, sizeof(email), "user%d@example.com", i);
		person(id, email, ",\"name\":\"Someone\"");
	}
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "email", "user3@example.com", NULL, &out, &d), FF_OK);
	json_decref(out);
	uint8_t key2[32];
	memset(key2, 0x5c, sizeof(key2));
	/* interrupted after one batch of 10 ... */
	cr_assert_eq(engine_rotate_master_key_steps(F.e, &F.cli, key2, 10, 1, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "participants")), 10);
	cr_assert_eq(json_integer_value(json_object_get(out, "blocklist")), 1, "the blocklist went in the same batch");
	cr_assert(json_is_false(json_object_get(out, "complete")));
	json_decref(out);
	/* ... meanwhile a server given the other key as FULFILL_MASTER_KEY_PREVIOUS reads
	 * rows of both keys ... */
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key2[i]);
	setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	engine_close(F.e);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	const char *ids[] = {"u0", "u29"};
	for (int i = 0; i < 2; i++) {
		json_t *mid = NULL;
		char want[32];
		snprintf(want, sizeof(want), "user%s@example.com", ids[i] + 1);
		cr_assert_eq(engine_participant_get(F.e, &F.cli, ids[i], &mid, &d), FF_OK);
		cr_assert_str_eq(json_string_value(json_object_get(mid, "email")), want);
		json_decref(mid);
	}
	unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	engine_close(F.e);
	F.e = NULL;
	/* ... the new key alone does not open it yet (most rows are under the old one) ... */
	uint8_t key1[32];
	memcpy(key1, F.cfg.master_key, 32);
	memcpy(F.cfg.master_key, key2, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_E_INVALID, "the new key before the rotation is done");
	/* ... but with the old one as the previous key it does */
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key1[i]);
	setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	engine_close(F.e);
	unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	memcpy(F.cfg.master_key, key1, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	/* ... and run again, it resumes: only the 20 left */
	cr_assert_eq(engine_rotate_master_key(F.e, &F.cli, key2, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "participants")), 20);
	cr_assert_eq(json_integer_value(json_object_get(out, "blocklist")), 0);
	cr_assert(json_is_true(json_object_get(out, "complete")));
	json_decref(out);
	cr_assert_eq(engine_rotate_master_key(F.e, &F.cli, key2, &out, &d), FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(out, "participants")), 0, "resumable: nothing twice");
	json_decref(out);
	/* the old key no longer opens the database ... */
	engine_close(F.e);
	F.e = NULL;
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_E_INVALID, "the old key after the rotation");
	cr_assert(strstr(d.message, "wrong master key"), "%s", d.message);
	/* ... the new key does: names, e-mails and e-mail lookups work */
	memcpy(F.cfg.master_key, key2, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	json_t *p = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "u7", &p, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(p, "email")), "user7@example.com");
	cr_assert_str_eq(json_string_value(json_object_get(p, "name")), "Someone");
	json_decref(p);
	person("x", "x@example.com", NULL);
	const char *sig;
	cr_assert_str_eq(refer("r1", "x", "u3", NULL, &sig), "rejected", "the blocklist hash was rotated too");
	cr_assert_str_eq(sig, "blocklist");

	/* a server still on the old key (the new one as its previous) writes a participant
	 * after the rotation; the catch-up run from a process on the new key, the old one as
	 * its previous key, re-seals it */
	engine_close(F.e);
	F.e = NULL;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key2[i]);
	setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	memcpy(F.cfg.master_key, key1, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	person("late", "late@example.com", NULL);
	engine_close(F.e);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key1[i]);
	setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	memcpy(F.cfg.master_key, key2, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	cr_assert_eq(engine_rotate_master_key(F.e, &F.cli, key2, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "participants")), 1, "the late row only");
	json_decref(out);
	engine_close(F.e);
	unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "late", &p, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(p, "email")), "late@example.com", "the new key alone opens it");
	json_decref(p);
}

/* A blocklisted e-mail that opens with neither key cannot be re-hashed: the rotation
 * stops with an error naming it instead of finding the same row in every batch and
 * running forever. */
Test(fraud, master_key_rotation_stops_at_a_blocklist_entry_it_cannot_open)
{
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "email", "badguy@gmail.com", NULL, &out, &d), FF_OK, "%s",
		     d.message);
	json_decref(out);
	uint8_t other[32], key2[32];
	memset(other, 0x77, sizeof(other));
	memset(key2, 0x5c, sizeof(key2));
	char *foreign = crypto_seal(other, "badguy@gmail.com");
	char sql[512];
	snprintf(sql, sizeof(sql), "UPDATE blocklist SET value_enc = '%s'", foreign);
	free(foreign);
	fx_sql(&F, sql);
	out = NULL;
	/* 50 batches of 1 row: far more than the one row needs */
	enum ff_err err = engine_rotate_master_key_steps(F.e, &F.cli, key2, 1, 50, &out, &d);
	cr_assert_eq(err, FF_E_INVALID, "stopped: %s", out ? json_dumps(out, 0) : d.message);
	cr_assert(strstr(d.message, "opens with neither"), "%s", d.message);
	cr_assert_null(strstr(d.message, "badguy"), "no e-mail in the message: %s", d.message);
	json_decref(out);
}
