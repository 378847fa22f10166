/*
 * router.c - the route table and its matcher.
 *
 * Every HTTP route of fulfill is one row here: method, path pattern with {params},
 * handler, the roles that may call it, flags, the query parameters it accepts, the
 * success status and the schema of its body (openapi_schemas.c), and a summary. The
 * OpenAPI document (openapi.c), the role table (docs/api-roles.md) and the 404/405
 * logic all come from this one table, so they cannot disagree.
 */
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

#define PAGE "limit,starting_after"

const struct route http_routes[] = {
    /* events */
    {"POST", "/v1/events", h_events, R_ADMIN | R_INGEST, RF_BODY | RF_GROUPCOMMIT, NULL,
     "one event object, or NDJSON (application/x-ndjson)", 200, "EventResult|NdjsonResult",
     "Ingest one event (JSON) or up to 10,000 (NDJSON)"},

    /* programs */
    {"GET", "/v1/programs", h_program_list, R_READ, 0, PAGE, NULL, 200, "list:Program",
     "List programs"},
    {"PUT", "/v1/programs/{id}", h_program_put, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
     "program document (SPEC.md section 3)", 201, "ProgramDraft",
     "Save a program document as a new draft version"},
    {"GET", "/v1/programs/{id}", h_program_get, R_READ, 0, NULL, NULL, 200, "Program",
     "A program with its active version and versions"},
    {"GET", "/v1/programs/{id}/versions/{version}", h_program_version, R_READ, 0, NULL, NULL, 200,
     "ProgramVersionDetail", "One version of a program"},
    {"GET", "/v1/programs/{id}/diff", h_program_diff, R_READ, 0, "from,to", NULL, 200,
     "ProgramDiff", "What changed between two versions"},
    {"POST", "/v1/programs/{id}/versions/{version}/approve", h_program_approve, R_ADMIN, RF_BODY,
     NULL, "{} (empty)", 200, "ProgramVersionDetail",
     "Approve a version (a second admin: not its author)"},
    {"POST", "/v1/programs/{id}/versions/{version}/activate", h_program_activate, R_ADMIN, RF_BODY,
     NULL, "{} (empty)", 200, "Program", "Activate an approved version"},
    {"POST", "/v1/programs/{id}/rollback", h_program_rollback, R_ADMIN, RF_BODY, NULL, "version",
     200, "Program", "Activate an earlier approved version again"},

    {"POST", "/v1/programs/{id}/versions/{version}/simulate", h_program_simulate,
     R_ADMIN | R_OPERATOR, RF_BODY, NULL, "from,to", 200, "Simulation",
     "What the events of a time window would have earned under a version (nothing is stored)"},

    /* participants, referrals, conversions */
    {"GET", "/v1/participants", h_participant_list, R_READ, 0, PAGE ",status,country", NULL, 200,
     "list:Participant", "List participants"},
    {"GET", "/v1/participants/{id}", h_participant_get, R_READ | R_PARTNER, 0, NULL, NULL, 200,
     "ParticipantDetail", "A participant with stats and balances"},
    {"GET", "/v1/participants/{id}/referrals", h_participant_referrals, R_READ | R_PARTNER, 0, PAGE,
     NULL, 200, "list:Referral", "The referrals a participant made"},
    {"GET", "/v1/participants/{id}/rewards", h_participant_rewards, R_READ | R_PARTNER, 0, PAGE,
     NULL, 200, "list:Reward", "The rewards of a participant"},
    {"POST", "/v1/participants/{id}/redeem", h_participant_redeem, R_ADMIN | R_OPERATOR, RF_BODY,
     NULL, "amount,currency", 200, "Redemption", "Debit a participant's credit balance"},
    {"POST", "/v1/participants/{id}/tax-form", h_participant_tax_form,
     R_ADMIN | R_OPERATOR | R_FINANCE, RF_BODY, NULL, "form", 200, "ParticipantDetail",
     "Record a participant's tax form"},
    {"GET", "/v1/referrals/{id}", h_referral_get, R_READ | R_PARTNER, 0, NULL, NULL, 200,
     "ReferralDetail", "A referral"},
    {"GET", "/v1/conversions/{id}", h_conversion_get, R_READ, 0, NULL, NULL, 200, "Conversion",
     "A conversion (with its explanation when it earned nothing)"},

    /* rewards */
    {"GET", "/v1/rewards", h_reward_list, R_READ | R_FULFILLER, 0,
     PAGE ",status,reason,participant,program,batch", NULL, 200, "list:Reward", "List rewards"},
    {"GET", "/v1/rewards/{id}", h_reward_get, R_READ | R_PARTNER | R_FULFILLER, 0, NULL, NULL, 200,
     "RewardDetail", "A reward with its history"},
    {"GET", "/v1/rewards/{id}/explain", h_reward_explain, R_READ | R_PARTNER, 0, NULL, NULL, 200,
     "Explanation", "Why a reward came out as it did"},
    {"POST", "/v1/rewards/{id}/approve", h_reward_approve, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
     "{} (empty)", 200, "Reward", "Approve a reward in review"},
    {"POST", "/v1/rewards/{id}/reject", h_reward_reject, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
     "reason", 200, "Reward", "Reject a reward in review"},
    {"POST", "/v1/rewards/{id}/retry", h_reward_retry, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
     "{} (empty)", 200, "Reward", "Retry a failed reward"},
    {"POST", "/v1/rewards/{id}/cancel", h_reward_cancel, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
     "reason", 200, "Reward", "Cancel a reward"},

    {"POST", "/v1/rewards/review", h_rewards_review, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
     "approve,reject,reason", 200, "ReviewResult",
     "Approve and reject many reviewed rewards at once"},

    /* connectors, code pools, webhooks, notifications */
    {"GET", "/v1/connectors", h_connector_list, R_ADMIN | R_OPERATOR | R_AUDITOR, 0, PAGE, NULL,
     200, "list:Connector", "List connectors (secrets masked)"},
    {"PUT", "/v1/connectors/{id}", h_connector_put, R_ADMIN, RF_BODY, NULL, "type,config", 200,
     "Connector", "Configure a connector (secrets are write-only)"},
    {"GET", "/v1/connectors/{id}", h_connector_get, R_ADMIN | R_OPERATOR | R_AUDITOR, 0, NULL, NULL,
     200, "Connector", "A connector with its breaker state"},
    {"DELETE", "/v1/connectors/{id}", h_connector_delete, R_ADMIN, 0, NULL, NULL, 200, "Deleted",
     "Remove a connector"},
    {"POST", "/v1/connectors/{id}/reconcile", h_connector_reconcile, R_ADMIN | R_FINANCE,
     RF_BODY | RF_CSV | RF_NOJSON, "from,to", "text/csv: reward_id,amount,currency,reference", 200,
     "Reconciliation", "Reconcile a connector's fulfilled rewards against the provider's export"},
    {"POST", "/v1/reconciliations", h_reconciliation_create, R_ADMIN | R_FINANCE,
     RF_BODY | RF_CSV | RF_NOJSON, "connector,from,to",
     "text/csv: reward_id,amount,currency,reference", 200, "Reconciliation",
     "Reconcile a connector's fulfilled rewards (by external reference) against a provider export"},
    {"GET", "/v1/code-pools", h_code_pool_list, R_READ, 0, PAGE, NULL, 200, "list:CodePool",
     "List code pools"},
    {"PUT", "/v1/code-pools/{id}", h_code_pool_put, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
     "low_stock_threshold,per_participant_limit", 200, "CodePool",
     "Create or configure a code pool"},
    {"GET", "/v1/code-pools/{id}", h_code_pool_get, R_READ, 0, NULL, NULL, 200, "CodePool",
     "A code pool with its counts"},
    {"POST", "/v1/code-pools/{id}/codes", h_code_pool_upload, R_ADMIN | R_OPERATOR,
     RF_BODY | RF_CSV, NULL, "codes (JSON), or text/csv with one code per line", 200, "CodeUpload",
     "Upload codes"},
    {"POST", "/v1/code-pools/{id}/codes/{code}", h_code_set_status, R_ADMIN | R_OPERATOR, RF_BODY,
     NULL, "status", 200, "CodeStatus", "Mark a code redeemed or void"},
    {"GET", "/v1/webhook-endpoints", h_webhook_list, R_ADMIN | R_OPERATOR | R_AUDITOR, 0, PAGE,
     NULL, 200, "list:WebhookEndpoint", "List webhook endpoints"},
    {"POST", "/v1/webhook-endpoints", h_webhook_create, R_ADMIN, RF_BODY, NULL,
     "url,events,description", 201, "WebhookEndpointCreated",
     "Create a webhook endpoint (its secret is shown once)"},
    {"GET", "/v1/webhook-endpoints/{id}", h_webhook_get, R_ADMIN | R_OPERATOR | R_AUDITOR, 0, NULL,
     NULL, 200, "WebhookEndpointDetail", "A webhook endpoint with delivery counts"},
    {"DELETE", "/v1/webhook-endpoints/{id}", h_webhook_delete, R_ADMIN, 0, NULL, NULL, 200,
     "Deleted", "Delete a webhook endpoint"},
    {"GET", "/v1/webhook-endpoints/{id}/deliveries", h_webhook_deliveries,
     R_ADMIN | R_OPERATOR | R_AUDITOR, 0, PAGE, NULL, 200, "list:WebhookAttempt",
     "Every delivery attempt of an endpoint"},
    {"GET", "/v1/notifications", h_notifications, R_ADMIN | R_OPERATOR | R_AUDITOR, 0,
     PAGE ",reward", NULL, 200, "list:Notification", "The e-mail outbox (no addresses or content)"},

    /* fraud and finance settings */
    {"GET", "/v1/blocklist", h_blocklist_list, R_ADMIN | R_OPERATOR | R_AUDITOR, 0, NULL, NULL, 200,
     "list:BlocklistEntry", "Blocklist entries"},
    {"POST", "/v1/blocklist", h_blocklist_add, R_ADMIN | R_OPERATOR, RF_BODY, NULL,
     "kind,value,note", 201, "BlocklistEntry", "Block an e-mail, domain, IP (or CIDR) or device"},
    {"DELETE", "/v1/blocklist", h_blocklist_delete, R_ADMIN | R_OPERATOR, 0, "kind,value", NULL,
     200, "BlocklistEntryDeleted", "Remove a blocklist entry"},
    {"GET", "/v1/settings/tax", h_tax_settings, R_ADMIN | R_FINANCE | R_AUDITOR, 0, NULL, NULL, 200,
     "TaxSettings", "Tax thresholds and reportable reward types"},
    {"PUT", "/v1/settings/tax/thresholds/{country}", h_tax_threshold_put, R_ADMIN | R_FINANCE,
     RF_BODY, NULL, "amount,currency", 200, "TaxSettings",
     "Set a country's tax-form threshold (amount 0 removes it)"},
    {"PUT", "/v1/settings/tax/reportable-types", h_tax_types_put, R_ADMIN | R_FINANCE, RF_BODY,
     NULL, "types", 200, "TaxSettings", "Set the tax-reportable reward types"},
    {"GET", "/v1/fx-rates", h_fx_list, R_ADMIN | R_FINANCE | R_AUDITOR, 0, NULL, NULL, 200,
     "FxRates", "FX rates into the reporting currency"},
    {"PUT", "/v1/fx-rates", h_fx_put, R_ADMIN | R_FINANCE, RF_BODY, NULL, "reporting,rates", 200,
     "FxRates", "Replace the FX rates (decimal strings)"},
    {"GET", "/v1/fees", h_fee_list, R_ADMIN | R_FINANCE | R_AUDITOR, 0, NULL, NULL, 200, "list:Fee",
     "Per-connector payout fees"},
    {"PUT", "/v1/fees/{connector}", h_fee_put, R_ADMIN | R_FINANCE, RF_BODY, NULL,
     "currency,fixed_amount,percent_bp", 200, "list:Fee", "Set a connector's payout fee"},

    /* batches and reconciliation (fulfiller keys: their own batches only) */
    {"GET", "/v1/batches", h_batch_list, R_ADMIN | R_FINANCE | R_AUDITOR | R_FULFILLER, 0,
     PAGE ",status,fulfiller", NULL, 200, "list:Batch", "List batches"},
    {"POST", "/v1/batches", h_batch_create, R_ADMIN | R_FINANCE | R_FULFILLER, RF_BODY, NULL,
     "fulfiller,connector,currency,until", 201, "BatchDetail",
     "Roll approved rewards into a new open batch"},
    {"GET", "/v1/batches/{id}", h_batch_get, R_ADMIN | R_FINANCE | R_AUDITOR | R_FULFILLER, 0, NULL,
     NULL, 200, "BatchDetail", "A batch with its rewards and totals"},
    {"GET", "/v1/batches/{id}/report.csv", h_batch_report,
     R_ADMIN | R_FINANCE | R_AUDITOR | R_FULFILLER, 0, NULL, NULL, 200, "text/csv",
     "The batch report as CSV"},
    {"POST", "/v1/batches/{id}/close", h_batch_close, R_ADMIN | R_FINANCE | R_FULFILLER, RF_BODY,
     NULL, "{} (empty)", 200, "Batch", "Close a batch (exported / submitted)"},
    {"POST", "/v1/batches/{id}/fulfill", h_batch_fulfill, R_ADMIN | R_FINANCE | R_FULFILLER,
     RF_BODY, NULL, "reference", 200, "Batch", "Mark a batch and its rewards fulfilled"},
    {"POST", "/v1/batches/{id}/reconcile", h_batch_reconcile, R_ADMIN | R_FINANCE,
     RF_BODY | RF_CSV | RF_NOJSON, NULL, "text/csv: reward_id,amount,currency,reference", 200,
     "Reconciliation", "Reconcile a batch against the provider's report"},

    /* work, reports, keys, audit */
    {"POST", "/v1/jobs/run", h_jobs_run, R_ADMIN, RF_BODY | RF_OWN_TX, NULL, "{} (empty)", 200,
     "WorkerPass", "Run one worker pass now"},
    {"GET", "/v1/reports/participants", h_report_participants, R_READ, 0, "format", NULL, 200,
     "ParticipantsReport", "Per-participant report (JSON, or CSV with format=csv)"},
    {"GET", "/v1/reports/payouts", h_report_payouts, R_ADMIN | R_FINANCE | R_AUDITOR, 0,
     "from,to,group,reporting,format", NULL, 200, "PayoutsReport",
     "Expected vs. actual payouts per period and currency"},
    {"GET", "/v1/reports/aging", h_report_aging, R_READ, 0, "format", NULL, 200, "AgingReport",
     "Pending and approved rewards by age"},
    {"GET", "/v1/reports/tax", h_report_tax, R_ADMIN | R_FINANCE | R_AUDITOR, 0, "year,format",
     NULL, 200, "TaxReport", "Tax-reportable payouts per participant (1099-style)"},
    {"GET", "/v1/reports/kpis", h_report_kpis, R_READ, 0, "from,to,format", NULL, 200, "KpiReport",
     "Payout accuracy, cycle time, cost per payout, exceptions"},
    {"GET", "/v1/reports/credit-status", h_report_credit_status,
     R_ADMIN | R_FINANCE | R_AUDITOR | R_FULFILLER, 0, "fulfiller,format", NULL, 200,
     "CreditStatusReport", "Credit status per participant and fulfiller"},
    {"POST", "/v1/api-keys", h_key_create, R_ADMIN, RF_BODY, NULL,
     "role,name,participant,fulfiller", 201, "ApiKey", "Create an API key (shown once)"},
    {"DELETE", "/v1/api-keys/{prefix}", h_key_revoke, R_ADMIN, 0, NULL, NULL, 200, "ApiKeyRevoked",
     "Revoke an API key"},
    {"GET", "/v1/me", h_me, R_READ | R_INGEST | R_FULFILLER | R_PARTNER, 0, NULL, NULL, 200, "Me",
     "The calling API key: its role, prefix and scope (console, portal)"},
    {"GET", "/v1/audit", h_audit_list, R_ADMIN | R_AUDITOR, 0, PAGE, NULL, 200, "list:AuditRecord",
     "The audit log"},
    {"GET", "/v1/audit/verify", h_audit_verify, R_ADMIN | R_AUDITOR, 0, NULL, NULL, 200,
     "AuditVerification", "Recompute the audit hash chain"},

    /* operations, documents, static pages */
    {"GET", "/healthz", h_healthz, R_PUBLIC, 0, NULL, NULL, 200, "Health", "Liveness"},
    {"GET", "/readyz", h_readyz, R_PUBLIC, 0, NULL, NULL, 200, "Health",
     "Readiness (database reachable)"},
    {"GET", "/metrics", h_metrics, R_PUBLIC, 0, NULL, NULL, 200, "text/plain",
     "Prometheus metrics"},
    {"GET", "/v1/openapi.json", h_openapi, R_PUBLIC, 0, NULL, NULL, 200, "OpenAPIDocument",
     "This OpenAPI document"},
    {"GET", "/console", h_static, R_PUBLIC, RF_STATIC, NULL, NULL, 200, "text/html",
     "Operator console"},
    {"GET", "/console/{file}", h_static, R_PUBLIC, RF_STATIC, NULL, NULL, 200, "text/html",
     "Operator console assets"},
    {"GET", "/portal", h_static, R_PUBLIC, RF_STATIC, NULL, NULL, 200, "text/html",
     "Referrer portal"},
    {"GET", "/portal/{file}", h_static, R_PUBLIC, RF_STATIC, NULL, NULL, 200, "text/html",
     "Referrer portal assets"},
};

const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);

size_t router_index(const struct route *r) { return (size_t)(r - http_routes); }

/* Match one pattern against a path; fills params. */
static bool pattern_match(const char *pat, const char *path,
			  char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX])
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
		/* empty strings, not a memset of the whole array: this runs for every
		 * route on every request */
		for (int k = 0; k < HTTP_MAX_PARAMS; k++)
			scratch[k][0] = '\0';
		if (!pattern_match(r->pattern, norm, scratch))
			continue;
		if (strcmp(r->method, method) == 0) {
			/* the first match wins, and with a match there is no Allow to list */
			hit = r;
			for (int k = 0; k < HTTP_MAX_PARAMS; k++)
				memcpy(params[k], scratch[k], strlen(scratch[k]) + 1);
			break;
		}
		*out_path_known = true;
		if (allow_len && !strstr(allow, r->method)) {
			size_t used = strlen(allow);
			/* HEAD is answered wherever GET is (request.c) */
			snprintf(allow + used, allow_len - used, "%s%s%s", used ? ", " : "", r->method,
				 strcmp(r->method, "GET") ? "" : ", HEAD");
		}
	}
	if (hit)
		*out_path_known = true;
	return hit;
}
