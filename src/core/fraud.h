/*
 * fraud.h - private to src/core: fraud signals at ingest (fraud.c).
 */
#ifndef FULFILL_CORE_FRAUD_H
#define FULFILL_CORE_FRAUD_H

#include "core/core.h"

/* What is known of a referral when it arrives. */
struct referral_facts {
	const char *referrer;
	const char *referred;
	const char *referred_email; /* as given in the event, may be NULL */
	const char *ip;
	const char *device_id;
	int64_t occurred_at;
};

/* Append the referral-time signals of program p to `signals`
 * ([{"signal","detail","action"}]). */
enum ff_err fraud_referral_signals(struct engine *e, const struct program *p, const struct referral_facts *f,
				   json_t *signals);
/* Reward-time signals, appended to `signals` (a copy of the referral's): what was
 * learnt since the referral `referral` (which occurred at `referral_at`) - self_referral over the
 * participants' e-mails, devices and IPs as they are now, existing_customer for a
 * purchase from before the referral known only now, duplicate_referral when another
 * participant id with the referred person's normalized e-mail already earned under a
 * referral of this program, and blocklist entries (or a `blocked` status) since. */
void fraud_reward_time_signals(struct engine *e, const struct program *p, const char *referral, const char *referrer,
			       const char *referred, int64_t referral_at, json_t *signals);
/* true (with a detail) when a referrer's reward of `amount` would pass the program's
 * payout threshold for the period [period_start, period_end) it was earned in. */
bool fraud_payout_threshold(struct engine *e, const struct program *p, const char *referrer, int64_t amount,
			    int64_t period_start, int64_t period_end, char *detail, size_t n);
/* The first signal whose action is `action` ("reject"/"review"), or NULL. */
const char *fraud_first(json_t *signals, const char *action);

/* A domain as blocklist entries hold it and e-mail domains are matched: leading and
 * trailing dots dropped, ASCII letters lower-cased (UTF-8 bytes as they are: an IDN
 * matches in the form it is written, not its xn-- one), cut to n - 1 bytes. */
void fraud_domain_normalize(const char *domain, char *out, size_t n);

/* Address helpers (exposed for tests). */
bool fraud_ip_match(const char *a, const char *b, bool subnet);
bool fraud_cidr_contains(const char *cidr, const char *ip);
bool fraud_cidr_valid(const char *cidr);

#endif
