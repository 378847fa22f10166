/*
 * fraud_test.c - fraud signals with positive and negative cases, per-program actions,
 * velocity windows at their edges, blocklists, blocked participants and payout
 * thresholds (fraud_fixture.h). Bulk review, governance and the anomaly guard are in
 * governance_test.c, master-key rotation in keyrotation_test.c.
 */
#include "core/fraud.h"
#include "fraud_fixture.h"

TestSuite(fraud, .init = setup, .fini = teardown);

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
