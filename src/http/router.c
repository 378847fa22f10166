/*
 * router.c - the route table and its matcher.
 *
 * Every HTTP route of fulfill is one row here: method, path pattern with {params},
 * handler, the roles that may call it, flags, the query parameters it accepts and a
 * summary. The OpenAPI document (openapi.c), the role table (docs/api-roles.md) and
 * the 404/405 logic all come from this one table, so they cannot disagree.
 */
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

#define PAGE "limit,starting_after"

const struct route http_routes[] = {
	/* events */
	{"POST", "/v1/events", h_events, R_ADMIN | R_INGEST, RF_BODY | RF_GROUPCOMMIT, NULL,
	 "one event object, or NDJSON (application/x-ndjson)", 200,
	 "Ingest one event (JSON) or up to 10,000 (NDJSON)"},

	/* programs */
	{"GET", "/v1/programs", h_program_list, R_READ, 0, PAGE, NULL, 200, "List programs"},
	{"PUT", "/v1/programs/{id}", h_program_put, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
	 "program document (SPEC.md section 3)", 201, "Save a program document as a new draft version"},
	{"GET", "/v1/programs/{id}", h_program_get, R_READ, 0, NULL, NULL, 200,
	 "A program with its active version and versions"},
	{"GET", "/v1/programs/{id}/versions/{version}", h_program_version, R_READ, 0, NULL, NULL, 200,
	 "One version of a program"},
	{"GET", "/v1/programs/{id}/diff", h_program_diff, R_READ, 0, "from,to", NULL, 200,
	 "What changed between two versions"},
	{"POST", "/v1/programs/{id}/versions/{version}/approve", h_program_approve, R_ADMIN, RF_BODY, NULL,
	 "{} (empty)", 200, "Approve a version (a second admin: not its author)"},
	{"POST", "/v1/programs/{id}/versions/{version}/activate", h_program_activate, R_ADMIN, RF_BODY, NULL,
	 "{} (empty)", 200, "Activate an approved version"},
	{"POST", "/v1/programs/{id}/rollback", h_program_rollback, R_ADMIN, RF_BODY, NULL, "version", 200,
	 "Activate an earlier approved version again"},

	/* participants, referrals, conversions */
	{"GET", "/v1/participants", h_participant_list, R_READ, 0, PAGE ",status,country", NULL, 200,
	 "List participants"},
	{"GET", "/v1/participants/{id}", h_participant_get, R_READ | R_PARTNER, 0, NULL, NULL, 200,
	 "A participant with stats and balances"},
	{"GET", "/v1/participants/{id}/referrals", h_participant_referrals, R_READ | R_PARTNER, 0, PAGE, NULL,
	 200, "The referrals a participant made"},
	{"GET", "/v1/participants/{id}/rewards", h_participant_rewards, R_READ | R_PARTNER, 0, PAGE, NULL, 200,
	 "The rewards of a participant"},
	{"POST", "/v1/participants/{id}/redeem", h_participant_redeem, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
	 "amount,currency", 200, "Debit a participant's credit balance"},
	{"POST", "/v1/participants/{id}/tax-form", h_participant_tax_form, R_ADMIN | R_OPERATOR | R_FINANCE,
	 RF_BODY, NULL, "form", 200, "Record a participant's tax form"},
	{"GET", "/v1/referrals/{id}", h_referral_get, R_READ | R_PARTNER, 0, NULL, NULL, 200, "A referral"},
	{"GET", "/v1/conversions/{id}", h_conversion_get, R_READ, 0, NULL, NULL, 200,
	 "A conversion (with its explanation when it earned nothing)"},

	/* rewards */
	{"GET", "/v1/rewards", h_reward_list, R_READ | R_FULFILLER, 0, PAGE ",status,participant,program,batch",
	 NULL, 200, "List rewards"},
	{"GET", "/v1/rewards/{id}", h_reward_get, R_READ | R_PARTNER | R_FULFILLER, 0, NULL, NULL, 200,
	 "A reward with its history"},
	{"GET", "/v1/rewards/{id}/explain", h_reward_explain, R_READ | R_PARTNER, 0, NULL, NULL, 200,
	 "Why a reward came out as it did"},
	{"POST", "/v1/rewards/{id}/approve", h_reward_approve, R_ADMIN | R_OPERATOR, RF_BODY, NULL, "{} (empty)",
	 200, "Approve a reward in review"},
	{"POST", "/v1/rewards/{id}/reject", h_reward_reject, R_ADMIN | R_OPERATOR, RF_BODY, NULL, "reason", 200,
	 "Reject a reward in review"},
	{"POST", "/v1/rewards/{id}/retry", h_reward_retry, R_ADMIN | R_OPERATOR, RF_BODY, NULL, "{} (empty)", 200,
	 "Retry a failed reward"},
	{"POST", "/v1/rewards/{id}/cancel", h_reward_cancel, R_ADMIN | R_OPERATOR, RF_BODY, NULL, "reason", 200,
	 "Cancel a reward"},

	/* work, reports, keys, audit */
	{"POST", "/v1/jobs/run", h_jobs_run, R_ADMIN, RF_BODY, NULL, "{} (empty)", 200,
	 "Run one worker pass now"},
	{"GET", "/v1/reports/participants", h_report_participants, R_READ, 0, "format", NULL, 200,
	 "Per-participant report (JSON, or CSV with format=csv)"},
	{"POST", "/v1/api-keys", h_key_create, R_ADMIN, RF_BODY, NULL, "role,name,participant,fulfiller", 201,
	 "Create an API key (shown once)"},
	{"DELETE", "/v1/api-keys/{prefix}", h_key_revoke, R_ADMIN, 0, NULL, NULL, 200, "Revoke an API key"},
	{"GET", "/v1/audit", h_audit_list, R_ADMIN | R_AUDITOR, 0, PAGE, NULL, 200, "The audit log"},
	{"GET", "/v1/audit/verify", h_audit_verify, R_ADMIN | R_AUDITOR, 0, NULL, NULL, 200,
	 "Recompute the audit hash chain"},

	/* operations, documents, static pages */
	{"GET", "/healthz", h_healthz, R_PUBLIC, 0, NULL, NULL, 200, "Liveness"},
	{"GET", "/readyz", h_readyz, R_PUBLIC, 0, NULL, NULL, 200, "Readiness (database reachable)"},
	{"GET", "/metrics", h_metrics, R_PUBLIC, 0, NULL, NULL, 200, "Prometheus metrics"},
	{"GET", "/v1/openapi.json", h_openapi, R_PUBLIC, 0, NULL, NULL, 200, "This OpenAPI document"},
	{"GET", "/console", h_static, R_PUBLIC, RF_STATIC, NULL, NULL, 200, "Operator console"},
	{"GET", "/console/{file}", h_static, R_PUBLIC, RF_STATIC, NULL, NULL, 200, "Operator console assets"},
	{"GET", "/portal", h_static, R_PUBLIC, RF_STATIC, NULL, NULL, 200, "Referrer portal"},
	{"GET", "/portal/{file}", h_static, R_PUBLIC, RF_STATIC, NULL, NULL, 200, "Referrer portal assets"},
};

const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);

size_t router_index(const struct route *r)
{
	return (size_t)(r - http_routes);
}

/* Match one pattern against a path; fills params. */
static bool pattern_match(const char *pat, const char *path, char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX])
{
	int np = 0;
	const char *p = pat, *s = path;

	while (*p && *s) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t n = strcspn(s, "/");
			if (!close || n == 0 || n >= HTTP_PARAM_MAX || np >= HTTP_MAX_PARAMS)
				return false;
			memcpy(params[np], s, n);
			params[np][n] = '\0';
			np++;
			p = close + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

const struct route *router_match(const char *method, const char *path,
				 char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX], bool *out_path_known,
				 char *allow, size_t allow_len)
{
	char norm[2048];
	size_t len = strlen(path);
	const struct route *hit = NULL;
	char scratch[HTTP_MAX_PARAMS][HTTP_PARAM_MAX];

	*out_path_known = false;
	if (allow_len)
		allow[0] = '\0';
	if (len == 0 || len >= sizeof(norm) || path[0] != '/')
		return NULL;
	/* "/console/" and "/v1/rewards/" mean the same as without the slash */
	memcpy(norm, path, len + 1);
	if (len > 1 && norm[len - 1] == '/')
		norm[len - 1] = '\0';
	if (strstr(norm, "//"))
		return NULL;

	for (size_t i = 0; i < http_routes_count; i++) {
		const struct route *r = &http_routes[i];
		memset(scratch, 0, sizeof(scratch));
		if (!pattern_match(r->pattern, norm, scratch))
			continue;
		if (strcmp(r->method, method) == 0) {
			if (!hit) {
				hit = r;
				memcpy(params, scratch, sizeof(scratch));
			}
			continue;
		}
		*out_path_known = true;
		if (allow_len && !strstr(allow, r->method)) {
			size_t used = strlen(allow);
			snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", r->method);
		}
	}
	if (hit)
		*out_path_known = true;
	return hit;
}
