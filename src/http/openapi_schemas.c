/*
 * openapi_schemas.c - the schemas of the API's answers: components.schemas of the OpenAPI
 * document (openapi.c), which each route's success response references by the name in
 * its `resp` (router.c).
 *
 * An object schema is a table of its members, each with a type in a small notation, so
 * a schema reads like the JSON it describes:
 *
 *   string integer boolean object any    JSON types (object: open; any: no constraint)
 *   uint                                 an integer >= 0 (a count)
 *   money                                an integer amount in minor units
 *   time                                 a timestamp as the server writes it: RFC 3339,
 *                                        UTC, milliseconds ("2026-11-22T10:00:00.000Z")
 *   currency                             an ISO 4217 code, or POINT for loyalty points
 *   country                              an ISO 3166-1 alpha-2 code
 *   id:rwd                               an id the server made ("rwd_" and base62)
 *   seq                                  a sequence number as a string ("42")
 *   hex64                                a SHA-256 in hex
 *   pattern:RE                           a string matching RE (not ending in ? or [])
 *   const:x  enum:a|b|c  true            fixed strings; the constant true
 *   Name                                 a reference to another schema of this file
 *   map:T   T[]   T?                     object of T values; array of T; T or null
 *                                        ("map:" applies to the rest, "?" outside "[]")
 *
 * ALWAYS members are listed in `required`: the server sends them in every answer (null
 * where the type says so); SOMETIMES members appear in some answers only. Objects stay
 * open (no additionalProperties: false): the server may add members, and clients ignore
 * what they do not know. The members come from the engine's JSON builders (src/core:
 * reward_json.c, participant.c, batch.c, recon.c, report.c, ...); the API test suite
 * validates every answer it receives against these schemas (tests/api/apiutil.py).
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "http/http_int.h"

struct member {
	const char *name;
	const char *type; /* the notation above */
	bool sometimes;	  /* not in every answer: left out of `required` */
	const char *description;
};

/* clang-format off */
#define ALWAYS(name, type) {name, type, false, NULL}
#define SOMETIMES(name, type) {name, type, true, NULL}
#define ALWAYS_DOC(name, type, doc) {name, type, false, doc}
#define SOMETIMES_DOC(name, type, doc) {name, type, true, doc}
#define END {NULL, NULL, false, NULL}
/* clang-format on */

struct object_schema {
	const char *name;
	const char *base; /* NULL, or an object whose members come first (and may be redeclared) */
	const char *description;
	const struct member *members; /* up to END */
};

/* Schemas that are not objects: enums shared by several objects. */
static const struct {
	const char *name, *type, *description;
} named_types[] = {
    {"RewardStatus",
     "enum:pending|review|approved|issuing|fulfilled|reconciled|failed|cancelled|reversed|expired",
     "A reward's status (SPEC.md section 4)"},
    {"RewardType", "enum:credit|percent_discount|coupon|gift_card|cash|points|custom",
     "What a reward is"},
};

static const struct object_schema objects[] = {
    /* ---- shared ---- */
    {"Error", NULL, "Every error answer: {\"error\": {\"code\", \"message\", \"param\"?}}",
     (const struct member[]){ALWAYS("error", "ErrorBody"), END}},
    {"ErrorBody", NULL, "What went wrong (also per rejected NDJSON line and bulk decision)",
     (const struct member[]){
	 ALWAYS("code", "ErrorCode"), ALWAYS("message", "string"),
	 SOMETIMES_DOC("param", "string", "the field at fault, e.g. \"data.amount\""), END}},
    {"Health", NULL, "Liveness or readiness",
     (const struct member[]){ALWAYS("ok", "boolean"), END}},
    {"Money", NULL, "An amount of a currency",
     (const struct member[]){ALWAYS("currency", "currency"), ALWAYS("amount", "money"), END}},
    {"FraudSignal", NULL, "A fraud signal that fired (SPEC.md section 7)",
     (const struct member[]){ALWAYS("signal", "string"), ALWAYS("detail", "string"),
			     ALWAYS("action", "enum:review|reject"), END}},
    {"Deleted", NULL, "A deleted object",
     (const struct member[]){ALWAYS("id", "string"), ALWAYS("object", "string"),
			     ALWAYS("deleted", "true"), END}},
    {"OpenAPIDocument", NULL, "This document",
     (const struct member[]){ALWAYS("openapi", "string"), ALWAYS("info", "object"),
			     ALWAYS("paths", "object"), ALWAYS("components", "object"), END}},

    /* ---- events ---- */
    {"EventResult", NULL, "The answer to one event (JSON body)",
     (const struct member[]){
	 ALWAYS("id", "string"), ALWAYS("type", "enum:participant|referral|conversion|refund"),
	 ALWAYS_DOC("outcome", "enum:accepted|duplicate",
		    "duplicate: the id was ingested before; the rest is the first answer"),
	 ALWAYS_DOC("rewards", "id:rwd[]", "ids of the rewards the event created"),
	 SOMETIMES("referral", "string"), SOMETIMES("referral_status", "const:rejected"),
	 SOMETIMES("signals", "FraudSignal[]"), SOMETIMES("conversion", "string"),
	 SOMETIMES_DOC("changed", "RefundChange[]", "refunds: the rewards it changed"), END}},
    {"RefundChange", NULL, "A reward a refund cancelled, reversed or reduced",
     (const struct member[]){
	 ALWAYS("reward", "id:rwd"), ALWAYS("status", "RewardStatus"),
	 SOMETIMES_DOC("amount", "money", "the new amount of a reduced percentage reward"), END}},
    {"NdjsonResult", NULL, "The answer to an NDJSON body: counts and one result per event line",
     (const struct member[]){ALWAYS("accepted", "uint"), ALWAYS("duplicate", "uint"),
			     ALWAYS("rejected", "uint"), ALWAYS("results", "NdjsonLine[]"), END}},
    {"NdjsonLine", NULL, "One event line: an EventResult with its line number, or its error",
     (const struct member[]){
	 ALWAYS("line", "uint"), ALWAYS("outcome", "enum:accepted|duplicate|rejected"),
	 SOMETIMES("error", "ErrorBody"), SOMETIMES("id", "string"),
	 SOMETIMES("type", "enum:participant|referral|conversion|refund"),
	 SOMETIMES("rewards", "id:rwd[]"), SOMETIMES("referral", "string"),
	 SOMETIMES("referral_status", "const:rejected"), SOMETIMES("signals", "FraudSignal[]"),
	 SOMETIMES("conversion", "string"), SOMETIMES("changed", "RefundChange[]"), END}},

    /* ---- programs ---- */
    {"Program", NULL, "A program with its versions",
     (const struct member[]){
	 ALWAYS("id", "string"), ALWAYS("name", "string"), ALWAYS("currency", "currency"),
	 ALWAYS("active_version", "uint?"), ALWAYS("created_at", "time"),
	 ALWAYS("updated_at", "time"), ALWAYS("versions", "ProgramVersion[]"),
	 SOMETIMES_DOC("document", "object",
		       "the active version's program document (SPEC.md section 3)"),
	 END}},
    {"ProgramVersion", NULL, "One version of a program",
     (const struct member[]){ALWAYS("program", "string"), ALWAYS("version", "uint"),
			     ALWAYS("status", "enum:draft|approved|active"),
			     ALWAYS("author", "string"), ALWAYS("approved_by", "string?"),
			     ALWAYS("approved_at", "time?"), ALWAYS("activated_at", "time?"),
			     ALWAYS("created_at", "time"), END}},
    {"ProgramVersionDetail", "ProgramVersion", "One version of a program with its document",
     (const struct member[]){ALWAYS_DOC("document", "object", "the program document"), END}},
    {"ProgramDraft", NULL, "A program document saved as a new draft version",
     (const struct member[]){ALWAYS("id", "string"), ALWAYS("version", "uint"),
			     ALWAYS("status", "const:draft"), END}},
    {"ProgramDiff", NULL, "What changed between two versions (JSON-pointer paths)",
     (const struct member[]){ALWAYS("program", "string"), ALWAYS("from", "uint"),
			     ALWAYS("to", "uint"),
			     ALWAYS_DOC("changes_economics", "boolean",
					"payout economics changed: a second admin must approve"),
			     ALWAYS("changes", "DiffChange[]"), END}},
    {"DiffChange", NULL, "One changed value of a program document",
     (const struct member[]){ALWAYS("path", "string"), ALWAYS("op", "enum:added|removed|changed"),
			     ALWAYS_DOC("from", "any", "null when added"),
			     ALWAYS_DOC("to", "any", "null when removed"), END}},
    {"Simulation", NULL,
     "What the events of a window would have earned under a version, beside what they did",
     (const struct member[]){ALWAYS("object", "const:simulation"), ALWAYS("program", "string"),
			     ALWAYS("version", "uint"), ALWAYS("from", "time"),
			     ALWAYS("to", "time"), ALWAYS("conversions", "uint"),
			     ALWAYS("simulated", "SimulationTotals"),
			     ALWAYS("actual", "SimulationTotals"),
			     ALWAYS_DOC("changes", "SimulationChange[]",
					"conversions that would earn differently (100 at most)"),
			     END}},
    {"SimulationTotals", NULL, "Rewards counted, and their amounts per currency",
     (const struct member[]){ALWAYS("rewards", "uint"), ALWAYS("amounts", "Money[]"), END}},
    {"SimulationChange", NULL, "A conversion that would earn differently",
     (const struct member[]){ALWAYS("conversion", "string"), ALWAYS("actual", "SimulationTotals"),
			     ALWAYS("simulated", "SimulationTotals"), END}},

    /* ---- participants, referrals, conversions ---- */
    {"Participant", NULL, "A participant (e-mail and name decrypted)",
     (const struct member[]){
	 ALWAYS("id", "string"), ALWAYS("object", "const:participant"), ALWAYS("email", "string?"),
	 ALWAYS("name", "string?"), ALWAYS("country", "country?"), ALWAYS("currency", "currency?"),
	 ALWAYS("status", "enum:active|inactive|blocked"), ALWAYS("tax_form", "enum:w9|w8ben|none"),
	 ALWAYS("attributes", "object"), ALWAYS("device_ids", "string[]"),
	 ALWAYS("ips", "string[]"), ALWAYS("created_at", "time"), ALWAYS("updated_at", "time"),
	 END}},
    {"ParticipantDetail", "Participant", "A participant with stats and balances",
     (const struct member[]){
	 ALWAYS("stats", "ParticipantStats"),
	 ALWAYS_DOC("balances", "Money[]", "credit balances (the ledger), per currency"), END}},
    {"ParticipantStats", NULL, "What a participant did and earned",
     (const struct member[]){ALWAYS("referrals", "uint"), ALWAYS("successful_referrals", "uint"),
			     ALWAYS_DOC("rewards", "map:uint", "rewards per status"), END}},
    {"Redemption", NULL, "A debit of a credit balance",
     (const struct member[]){ALWAYS("object", "const:redemption"), ALWAYS("participant", "string"),
			     ALWAYS("amount", "money"), ALWAYS("currency", "currency"),
			     ALWAYS_DOC("balance", "money", "what is left"), END}},
    {"Referral", NULL, "A referral",
     (const struct member[]){
	 ALWAYS("id", "string"), ALWAYS("object", "const:referral"), ALWAYS("program", "string"),
	 ALWAYS("referrer", "string"), ALWAYS("referred", "string"), ALWAYS("code", "string?"),
	 ALWAYS("source", "string?"), ALWAYS("affiliate", "string?"), ALWAYS("ip", "string?"),
	 ALWAYS("device_id", "string?"), ALWAYS("occurred_at", "time"),
	 ALWAYS("status", "enum:pending|successful|rejected"),
	 ALWAYS("rejection_reason", "string?"), ALWAYS("signals", "FraudSignal[]"),
	 ALWAYS("created_at", "time"), ALWAYS("updated_at", "time"),
	 ALWAYS_DOC(
	     "last_evaluation", "ReferralEvaluation?",
	     "why the referral has or has not earned yet; null until something evaluated it"),
	 END}},
    {"ReferralEvaluation", NULL,
     "The latest evaluation of a referral in words its referrer may read: the program's "
     "conditions that failed, never the referred person's data (docs/api.md)",
     (const struct member[]){
	 ALWAYS_DOC("at", "time", "when it was evaluated"),
	 ALWAYS_DOC("trigger", "enum:conversion|referral",
		    "a purchase of the referred person was evaluated, or the referral itself"),
	 ALWAYS("outcome", "enum:rewarded|capped|not_eligible|rejected"),
	 ALWAYS("eligible", "boolean"),
	 ALWAYS_DOC("reasons", "string[]",
		    "sentences: each failed condition of the program, or what stopped the "
		    "referrer's reward; empty when it earned"),
	 END}},
    {"ReferralDetail", "Referral", "A referral with its explanation",
     (const struct member[]){
	 ALWAYS_DOC("explanation", "RuleExplanation?",
		    "for a rejected referral or a program triggered by referrals"),
	 END}},
    {"Conversion", NULL, "A conversion (a purchase)",
     (const struct member[]){
	 ALWAYS("id", "string"), ALWAYS("object", "const:conversion"),
	 ALWAYS("participant", "string"), ALWAYS("amount", "money"), ALWAYS("currency", "currency"),
	 ALWAYS("category", "string?"), ALWAYS("product", "string?"),
	 ALWAYS("attributes", "object"), ALWAYS("occurred_at", "time"),
	 ALWAYS("refunded_amount", "money"), ALWAYS("net_amount", "money"),
	 ALWAYS("referral", "string?"), ALWAYS("program", "string?"),
	 ALWAYS("program_version", "uint?"), ALWAYS("created_at", "time"),
	 ALWAYS_DOC("explanation", "RuleExplanation?",
		    "why it earned nothing; null when it earned rewards"),
	 ALWAYS_DOC("rewards", "id:rwd[]", "ids of the rewards it earned"), END}},

    /* ---- rewards ---- */
    {"Reward", NULL, "A reward (API.md \"Rewards\")",
     (const struct member[]){
	 ALWAYS("id", "id:rwd"),
	 ALWAYS("object", "const:reward"),
	 ALWAYS("program", "string"),
	 ALWAYS("program_version", "uint"),
	 ALWAYS("participant", "string"),
	 ALWAYS("role", "enum:referrer|referred"),
	 ALWAYS("referral", "string?"),
	 ALWAYS("conversion", "string?"),
	 ALWAYS("type", "RewardType"),
	 ALWAYS("amount", "money?"),
	 ALWAYS("currency", "currency?"),
	 ALWAYS_DOC("percent_bp", "integer?", "percentage rewards: basis points"),
	 SOMETIMES("max_amount", "money"),
	 SOMETIMES("months", "uint"),
	 ALWAYS("code", "string?"),
	 SOMETIMES("pool", "string"),
	 SOMETIMES("sku", "string"),
	 SOMETIMES_DOC("quantity", "uint?", "with sku"),
	 SOMETIMES("brand", "string"),
	 ALWAYS("status", "RewardStatus"),
	 ALWAYS("reason", "string?"),
	 ALWAYS("hold_until", "time?"),
	 ALWAYS("release_at", "time?"),
	 ALWAYS("expires_at", "time?"),
	 ALWAYS("connector", "string"),
	 ALWAYS("fulfiller", "string"),
	 ALWAYS("external_reference", "string?"),
	 ALWAYS("batch", "id:bat?"),
	 ALWAYS("signals", "FraudSignal[]"),
	 ALWAYS("attempts", "uint"),
	 ALWAYS("last_error", "string?"),
	 ALWAYS("fulfilled_at", "time?"),
	 ALWAYS("created_at", "time"),
	 ALWAYS("updated_at", "time"),
	 END}},
    {"RewardDetail", "Reward", "A reward with its history",
     (const struct member[]){ALWAYS("history", "RewardHistoryEntry[]"), END}},
    {"RewardHistoryEntry", NULL, "One status change of a reward",
     (const struct member[]){
	 ALWAYS_DOC("from",
		    "enum:created|pending|review|approved|issuing|fulfilled|reconciled|failed|"
		    "cancelled|reversed|expired",
		    "a status, or created for the first entry"),
	 ALWAYS("to", "RewardStatus"),
	 ALWAYS_DOC("actor", "string", "\"key:<prefix>\", \"cli\", \"worker\", ..."),
	 ALWAYS("reason", "string?"), ALWAYS("at", "time"), END}},
    {"Explanation", NULL,
     "Why a reward came out as it did (reward, status, signals), or, for a conversion id, why "
     "it earned nothing (conversion)",
     (const struct member[]){ALWAYS("object", "const:explanation"), ALWAYS("participant", "string"),
			     ALWAYS("explanation", "RuleExplanation"),
			     SOMETIMES("reward", "id:rwd"), SOMETIMES("status", "RewardStatus"),
			     SOMETIMES("signals", "FraudSignal[]"),
			     SOMETIMES("conversion", "string"), END}},
    {"RuleExplanation", NULL,
     "The rules' account of one event: eligibility clauses, tier, limits, signals and the "
     "rewards made (what is known depends on how far the evaluation went); a partner key "
     "reads it without the other party's values (docs/api-roles.md)",
     (const struct member[]){
	 SOMETIMES("object", "const:explanation"),
	 SOMETIMES_DOC("outcome", "string",
		       "rewarded, capped, not_eligible, rejected, no_referral, multiple_programs"),
	 SOMETIMES("eligible", "boolean"), SOMETIMES("program", "string"),
	 SOMETIMES("program_version", "uint"), SOMETIMES("trigger", "enum:referral|conversion"),
	 SOMETIMES("referral", "string"), SOMETIMES("conversion", "string?"),
	 SOMETIMES("clauses", "object[]"), SOMETIMES("failed", "string[]"),
	 SOMETIMES("signals", "FraudSignal[]"), SOMETIMES("tier", "object"),
	 SOMETIMES("limits", "object[]"), SOMETIMES("rewards", "object[]"),
	 SOMETIMES_DOC("programs", "object[]", "one explanation per program (multiple_programs)"),
	 SOMETIMES_DOC("this_reward", "id:rwd", "the reward asked about"), END}},
    {"ReviewResult", NULL, "Bulk review: one result per reward named",
     (const struct member[]){ALWAYS("object", "const:review_result"),
			     ALWAYS("results", "ReviewDecision[]"), ALWAYS("approved", "uint"),
			     ALWAYS("rejected", "uint"), ALWAYS("failed", "uint"), END}},
    {"ReviewDecision", NULL, "One decision of a bulk review: the new status, or why it failed",
     (const struct member[]){
	 ALWAYS("id", "string"), ALWAYS("ok", "boolean"), ALWAYS("decision", "enum:approve|reject"),
	 SOMETIMES("status", "RewardStatus"), SOMETIMES("error", "ErrorBody"), END}},
    {"WorkerPass", NULL, "What one worker pass did",
     (const struct member[]){ALWAYS("released", "uint"), ALWAYS("fulfilled", "uint"),
			     ALWAYS("failed", "uint"), ALWAYS("expired", "uint"),
			     ALWAYS("webhooks", "uint"), SOMETIMES("emails", "uint"),
			     SOMETIMES("synced", "uint"), SOMETIMES("reversed", "uint"), END}},

    /* ---- connectors, code pools, webhooks, notifications ---- */
    {"Connector", NULL, "A connector; secrets in config are masked (\"sk_...1234\")",
     (const struct member[]){ALWAYS("id", "string"), ALWAYS("object", "const:connector"),
			     ALWAYS("type", "string"), ALWAYS("config", "object"),
			     ALWAYS("breaker", "ConnectorBreaker"), END}},
    {"ConnectorBreaker", NULL, "The connector's circuit breaker",
     (const struct member[]){ALWAYS("state", "enum:closed|open"), ALWAYS("failures", "uint"),
			     ALWAYS("open_until", "time?"), END}},
    {"CodePool", NULL, "A code pool with its counts of codes per status",
     (const struct member[]){
	 ALWAYS("id", "string"), ALWAYS("object", "const:code_pool"),
	 ALWAYS("low_stock_threshold", "uint"), ALWAYS("per_participant_limit", "uint?"),
	 ALWAYS("low_stock", "boolean"), ALWAYS("available", "uint"), ALWAYS("assigned", "uint"),
	 ALWAYS("redeemed", "uint"), ALWAYS("void", "uint"), ALWAYS("created_at", "time"),
	 ALWAYS("updated_at", "time"), END}},
    {"CodeUpload", NULL, "Codes added to a pool",
     (const struct member[]){ALWAYS("pool", "string"), ALWAYS("added", "uint"),
			     ALWAYS("duplicates", "uint"), END}},
    {"CodeStatus", NULL, "A code marked redeemed or void",
     (const struct member[]){ALWAYS("pool", "string"), ALWAYS("code", "string"),
			     ALWAYS("status", "enum:redeemed|void"), ALWAYS("reward", "string?"),
			     END}},
    {"WebhookEndpoint", NULL, "A webhook endpoint",
     (const struct member[]){
	 ALWAYS("id", "id:we"), ALWAYS("object", "const:webhook_endpoint"),
	 ALWAYS_DOC("url", "string", "a password in it (user:secret@, password=) shown as ****"),
	 ALWAYS_DOC("events", "string[]", "event types; empty or \"*\": all"),
	 ALWAYS("description", "string?"), ALWAYS("status", "enum:enabled|disabled"),
	 ALWAYS("disabled_reason", "string?"), ALWAYS("created_at", "time"),
	 ALWAYS("updated_at", "time"), END}},
    {"WebhookEndpointCreated", "WebhookEndpoint", "A new webhook endpoint with its secret",
     (const struct member[]){ALWAYS_DOC("secret", "pattern:^whsec_", "shown in this answer only"),
			     END}},
    {"WebhookEndpointDetail", "WebhookEndpoint", "A webhook endpoint with its delivery counts",
     (const struct member[]){ALWAYS_DOC("deliveries", "map:uint", "deliveries per status"), END}},
    {"WebhookAttempt", NULL, "One delivery attempt",
     (const struct member[]){
	 ALWAYS_DOC("id", "seq", "a sequence number (for starting_after)"),
	 ALWAYS("object", "const:webhook_attempt"), ALWAYS("delivery", "id:dlv"),
	 ALWAYS_DOC("webhook_id", "id:msg", "the webhook-id header (the message)"),
	 ALWAYS("type", "string"), ALWAYS("attempt", "uint"), ALWAYS("status_code", "integer?"),
	 ALWAYS("error", "string?"), ALWAYS("success", "boolean"), ALWAYS("duration_ms", "uint"),
	 ALWAYS("at", "time"), END}},
    {"Notification", NULL, "An e-mail of the outbox (no address or content)",
     (const struct member[]){ALWAYS("id", "id:ntf"), ALWAYS("object", "const:notification"),
			     ALWAYS("reward", "id:rwd"), ALWAYS("participant", "string"),
			     ALWAYS("milestone", "string"),
			     ALWAYS("status", "enum:pending|sent|failed|unknown"),
			     ALWAYS("attempts", "uint"), ALWAYS("last_error", "string?"),
			     ALWAYS("created_at", "time"), ALWAYS("updated_at", "time"), END}},

    /* ---- fraud and finance settings ---- */
    {"BlocklistEntry", NULL, "A blocklist entry (e-mails shown decrypted)",
     (const struct member[]){
	 ALWAYS("object", "const:blocklist_entry"), ALWAYS("kind", "enum:email|domain|ip|device"),
	 ALWAYS("value", "string"), ALWAYS("note", "string?"), ALWAYS("created_at", "time"), END}},
    {"BlocklistEntryDeleted", NULL, "A removed blocklist entry",
     (const struct member[]){ALWAYS("object", "const:blocklist_entry"),
			     ALWAYS("kind", "enum:email|domain|ip|device"),
			     ALWAYS("deleted", "true"), END}},
    {"TaxSettings", NULL, "Tax-form thresholds per country and the reportable reward types",
     (const struct member[]){ALWAYS("object", "const:tax_settings"),
			     ALWAYS("thresholds", "TaxThreshold[]"),
			     ALWAYS("reportable_types", "RewardType[]"), END}},
    {"TaxThreshold", NULL, "A country's tax-form threshold",
     (const struct member[]){ALWAYS("country", "country"), ALWAYS("amount", "money"),
			     ALWAYS("currency", "currency"), END}},
    {"FxRates", NULL, "FX rates into the reporting currency",
     (const struct member[]){ALWAYS("object", "const:fx_rates"),
			     ALWAYS("reporting_currency", "currency"), ALWAYS("data", "FxRate[]"),
			     END}},
    {"FxRate", NULL, "One unit of currency is worth rate units of reporting",
     (const struct member[]){ALWAYS("currency", "currency"), ALWAYS("reporting", "currency"),
			     ALWAYS_DOC("rate", "string", "a decimal string, never a JSON number"),
			     ALWAYS("updated_at", "time"), END}},
    {"Fee", NULL, "A connector's payout fee in one currency",
     (const struct member[]){ALWAYS("connector", "string"), ALWAYS("currency", "currency"),
			     ALWAYS("fixed_amount", "money"), ALWAYS("percent_bp", "uint"),
			     ALWAYS("updated_at", "time"), END}},

    /* ---- batches and reconciliation ---- */
    {"Batch", NULL, "A payout batch (lists leave out rewards_by_status)",
     (const struct member[]){
	 ALWAYS("id", "id:bat"), ALWAYS("object", "const:batch"),
	 ALWAYS("status", "enum:open|closed|fulfilled|reconciled|disputed"),
	 ALWAYS("fulfiller", "string"), ALWAYS("connector", "string"),
	 ALWAYS("currency", "currency?"), ALWAYS("until", "time?"), ALWAYS("count", "uint"),
	 ALWAYS("totals", "BatchTotal[]"), ALWAYS("reference", "string?"),
	 ALWAYS_DOC("reconciliation", "ReconciliationSummary?", "the last reconciliation"),
	 ALWAYS("created_by", "string"), ALWAYS("created_at", "time"), ALWAYS("updated_at", "time"),
	 ALWAYS("closed_at", "time?"), ALWAYS("fulfilled_at", "time?"),
	 ALWAYS("reconciled_at", "time?"),
	 SOMETIMES_DOC("rewards_by_status", "map:uint", "the batch's rewards per status"), END}},
    {"BatchDetail", "Batch", "A payout batch with its rewards",
     (const struct member[]){
	 ALWAYS_DOC("rewards_by_status", "map:uint", "the batch's rewards per status"),
	 ALWAYS_DOC("rewards", "id:rwd[]", "reward ids"), END}},
    {"BatchTotal", NULL, "A batch's rewards in one currency",
     (const struct member[]){
	 ALWAYS_DOC("currency", "currency?", "null for rewards without an amount"),
	 ALWAYS("amount", "money"), ALWAYS("count", "uint"), END}},
    {"ReconciliationSummary", NULL, "The counts of a reconciliation run",
     (const struct member[]){
	 ALWAYS("id", "id:rec"), ALWAYS("status", "enum:reconciled|disputed"),
	 ALWAYS("lines_read", "uint"), ALWAYS("matched", "uint"), ALWAYS("amount_mismatch", "uint"),
	 ALWAYS("missing", "uint"), ALWAYS("unexpected", "uint"), ALWAYS("duplicate", "uint"),
	 ALWAYS("invalid", "uint"), ALWAYS("not_paid", "uint"), ALWAYS("at", "time"), END}},
    {"Reconciliation", "ReconciliationSummary",
     "A reconciliation run: every discrepancy (up to 10,000) and the first 1,000 matched lines",
     (const struct member[]){
	 ALWAYS("object", "const:reconciliation"), ALWAYS("lines", "ReconciliationLine[]"),
	 ALWAYS("lines_truncated", "boolean"),
	 ALWAYS_DOC("columns", "map:string?", "the report's header name of each column, or null"),
	 SOMETIMES_DOC("batch", "string", "a batch's reconciliation"),
	 SOMETIMES_DOC("connector", "string", "a connector's reconciliation"),
	 SOMETIMES("rewards_reconciled", "uint"), END}},
    {"ReconciliationLine", NULL, "One line of the report (or a reward the report lacks)",
     (const struct member[]){
	 ALWAYS_DOC("line", "uint?", "null for a missing reward"), ALWAYS("reward_id", "string?"),
	 ALWAYS("reference", "string?"),
	 ALWAYS("result", "enum:matched|amount_mismatch|missing|unexpected|duplicate|invalid"),
	 ALWAYS("expected", "ReportedMoney?"), ALWAYS("actual", "ReportedMoney?"),
	 SOMETIMES("error", "string"), END}},
    {"ReportedMoney", NULL, "An amount as expected or as the report states it",
     (const struct member[]){ALWAYS("amount", "integer?"), ALWAYS("currency", "string?"), END}},

    /* ---- reports: {"object": "report.<name>", "columns", "data": [rows], ...} ---- */
    {"ParticipantsReport", NULL, "Per participant: referrals, rewards, amounts per currency",
     (const struct member[]){ALWAYS("object", "const:report.participants"),
			     ALWAYS("data", "ParticipantsReportRow[]"), END}},
    {"ParticipantsReportRow", NULL, "One participant",
     (const struct member[]){ALWAYS("participant", "string"), ALWAYS("referrals", "uint"),
			     ALWAYS("successful_referrals", "uint"),
			     ALWAYS("rewards_earned", "uint"), ALWAYS("rewards_fulfilled", "uint"),
			     ALWAYS_DOC("rewards", "map:uint", "rewards per status"),
			     ALWAYS("amounts", "ParticipantAmounts[]"), END}},
    {"ParticipantAmounts", NULL, "Earned and fulfilled in one currency",
     (const struct member[]){ALWAYS("currency", "currency"), ALWAYS("earned", "money"),
			     ALWAYS("fulfilled", "money"), END}},
    {"PayoutsReport", NULL, "Expected vs. actual payouts per period and currency",
     (const struct member[]){
	 ALWAYS("object", "const:report.payouts"), ALWAYS("from", "time?"), ALWAYS("to", "time?"),
	 ALWAYS("group", "enum:day|week|month"), ALWAYS("reporting_currency", "currency"),
	 ALWAYS("columns", "string[]"), ALWAYS("data", "PayoutsRow[]"),
	 ALWAYS("totals", "PayoutsTotal[]"),
	 ALWAYS_DOC("converted", "PayoutsPeriod[]", "per period, in the reporting currency"),
	 ALWAYS_DOC("missing_rates", "string[]", "currencies without an FX rate"), END}},
    {"PayoutsRow", NULL, "One period and currency",
     (const struct member[]){
	 ALWAYS("period", "string"), ALWAYS("period_start", "time"), ALWAYS("currency", "currency"),
	 ALWAYS("expected_count", "uint"), ALWAYS("expected_amount", "money"),
	 ALWAYS("actual_count", "uint"), ALWAYS("actual_amount", "money"),
	 ALWAYS("reconciled_count", "uint"), ALWAYS("reconciled_amount", "money"),
	 ALWAYS_DOC("difference", "money", "expected - actual"),
	 ALWAYS("expected_decimal", "string"), ALWAYS("actual_decimal", "string"),
	 ALWAYS("reporting_currency", "currency"),
	 ALWAYS_DOC("converted_expected_amount", "money?",
		    "in the reporting currency; null without a rate"),
	 ALWAYS_DOC("converted_actual_amount", "money?",
		    "in the reporting currency; null without a rate"),
	 ALWAYS_DOC("converted_reconciled_amount", "money?",
		    "in the reporting currency; null without a rate"),
	 END}},
    {"PayoutsTotal", NULL, "One currency over the window",
     (const struct member[]){ALWAYS("currency", "currency"), ALWAYS("expected_amount", "money"),
			     ALWAYS("actual_amount", "money"), ALWAYS("reconciled_amount", "money"),
			     END}},
    {"PayoutsPeriod", NULL, "One period converted into the reporting currency",
     (const struct member[]){ALWAYS("period", "string"), ALWAYS("period_start", "time"),
			     ALWAYS("currency", "currency"), ALWAYS("expected_amount", "money"),
			     ALWAYS("actual_amount", "money"), ALWAYS("reconciled_amount", "money"),
			     END}},
    {"AgingReport", NULL, "Pending and approved rewards by age",
     (const struct member[]){
	 ALWAYS("object", "const:report.aging"), ALWAYS("as_of", "time"),
	 ALWAYS("buckets", "string[]"), ALWAYS("columns", "string[]"), ALWAYS("data", "AgingRow[]"),
	 ALWAYS_DOC("by_bucket", "map:uint", "rewards per age bucket"),
	 ALWAYS_DOC("by_reason", "map:map:uint", "per \"status[:reason]\": rewards per age bucket"),
	 END}},
    {"AgingRow", NULL, "Rewards of one status, reason, age bucket and currency",
     (const struct member[]){
	 ALWAYS("status", "enum:pending|approved"),
	 ALWAYS_DOC("reason", "string?", "null when none"),
	 ALWAYS("bucket", "enum:0-7|8-30|31-60|61-90|90+"),
	 ALWAYS_DOC("currency", "currency?", "null for rewards without an amount"),
	 ALWAYS("count", "uint"), ALWAYS("amount", "money"), END}},
    {"TaxReport", NULL, "Tax-reportable payouts of a calendar year (1099-style)",
     (const struct member[]){ALWAYS("object", "const:report.tax"), ALWAYS("year", "uint"),
			     ALWAYS("columns", "string[]"), ALWAYS("data", "TaxReportRow[]"), END}},
    {"TaxReportRow", NULL, "One participant and currency",
     (const struct member[]){
	 ALWAYS("participant", "string"),
	 ALWAYS_DOC("currency", "currency?",
		    "null for rewards with an amount but no currency (coupons)"),
	 ALWAYS("amount", "money"), ALWAYS("amount_decimal", "string"), ALWAYS("rewards", "uint"),
	 ALWAYS("name", "string?"), ALWAYS("email", "string?"), ALWAYS("country", "country?"),
	 ALWAYS("tax_form", "enum:w9|w8ben|none"), ALWAYS("threshold", "money?"),
	 ALWAYS("threshold_currency", "currency?"), ALWAYS("threshold_reached", "boolean"),
	 ALWAYS("form_missing", "boolean"), END}},
    {"KpiReport", NULL, "Payout accuracy, cycle time, cost per payout, exception queue",
     (const struct member[]){ALWAYS("object", "const:report.kpis"), ALWAYS("from", "time?"),
			     ALWAYS("to", "time?"), ALWAYS("payout_accuracy", "KpiAccuracy"),
			     ALWAYS("cycle_time", "KpiCycleTime"),
			     ALWAYS("cost_per_payout", "KpiCost[]"),
			     ALWAYS_DOC("exception_queue", "uint", "failed rewards"),
			     ALWAYS("columns", "string[]"), ALWAYS("data", "KpiRow[]"), END}},
    {"KpiAccuracy", NULL, "Reconciliation lines without a discrepancy",
     (const struct member[]){
	 ALWAYS_DOC("accuracy_bp", "uint?", "basis points; null before any reconciliation"),
	 ALWAYS("matched", "uint"), ALWAYS("discrepancies", "uint"), ALWAYS("runs", "uint"),
	 ALWAYS("runs_reconciled", "uint"), END}},
    {"KpiCycleTime", NULL, "Conversion to fulfilled",
     (const struct member[]){ALWAYS("count", "uint"), ALWAYS("p50_ms", "uint?"),
			     ALWAYS("p95_ms", "uint?"), END}},
    {"KpiCost", NULL, "Payouts of one connector and currency, and their cost from the fee table",
     (const struct member[]){
	 ALWAYS("connector", "string"),
	 ALWAYS_DOC("currency", "currency?", "null for payouts without a currency (codes, goods)"),
	 ALWAYS("payouts", "uint"), ALWAYS("amount", "money"), SOMETIMES("fixed_amount", "money"),
	 SOMETIMES("percent_bp", "uint"), ALWAYS_DOC("cost", "money?", "null without a fee"),
	 ALWAYS_DOC("cost_per_payout", "money?", "null without a fee"), END}},
    {"KpiRow", NULL, "One metric",
     (const struct member[]){
	 ALWAYS("metric", "enum:payout_accuracy_bp|cycle_time_p50_ms|cycle_time_p95_ms|"
			  "cost_per_payout|exception_queue"),
	 ALWAYS("connector", "string?"),
	 ALWAYS_DOC("currency", "currency?",
		    "null for a metric of no currency, and for payouts without one"),
	 ALWAYS("value", "integer?"), END}},
    {"CreditStatusReport", NULL, "Credit status per participant, fulfiller and currency",
     (const struct member[]){ALWAYS("object", "const:report.credit_status"),
			     ALWAYS("fulfiller", "string?"), ALWAYS("columns", "string[]"),
			     ALWAYS("data", "CreditStatusRow[]"), END}},
    {"CreditStatusRow", NULL, "Counts and amounts per state",
     (const struct member[]){ALWAYS("participant", "string"), ALWAYS("fulfiller", "string"),
			     ALWAYS("currency", "currency?"), ALWAYS("new_count", "uint"),
			     ALWAYS("new_amount", "money"), ALWAYS("in_batch_count", "uint"),
			     ALWAYS("in_batch_amount", "money"), ALWAYS("fulfilled_count", "uint"),
			     ALWAYS("fulfilled_amount", "money"),
			     ALWAYS("reconciled_count", "uint"),
			     ALWAYS("reconciled_amount", "money"), END}},

    /* ---- keys and audit ---- */
    {"ApiKey", NULL, "A new API key",
     (const struct member[]){ALWAYS("object", "const:api_key"),
			     ALWAYS_DOC("key", "pattern:^fk_", "shown in this answer only"),
			     ALWAYS("prefix", "string"), ALWAYS("role", "Role"),
			     ALWAYS("name", "string?"), ALWAYS("participant", "string?"),
			     ALWAYS("fulfiller", "string?"), ALWAYS("created_at", "time"), END}},
    {"Me", NULL, "The calling API key (GET /v1/me)",
     (const struct member[]){ALWAYS("object", "const:api_key"), ALWAYS("role", "Role"),
			     ALWAYS("prefix", "string"), ALWAYS("participant", "string?"),
			     ALWAYS("fulfiller", "string?"), END}},
    {"ApiKeyRevoked", NULL, "A revoked API key",
     (const struct member[]){ALWAYS("object", "const:api_key"), ALWAYS("prefix", "string"),
			     ALWAYS("revoked", "true"), END}},
    {"AuditRecord", NULL, "One record of the hash-chained audit log",
     (const struct member[]){
	 ALWAYS_DOC("id", "seq", "the sequence number (for starting_after)"), ALWAYS("at", "time"),
	 ALWAYS("actor", "string"), ALWAYS("action", "string"), ALWAYS("target", "string"),
	 ALWAYS("detail", "any"),
	 ALWAYS_DOC("prev_hash", "hex64", "the previous record's hash (zeros for the first)"),
	 ALWAYS("hash", "hex64"), END}},
    {"AuditVerification", NULL, "The audit hash chain recomputed",
     (const struct member[]){
	 ALWAYS("ok", "boolean"), ALWAYS_DOC("records", "uint", "records that hold"),
	 SOMETIMES_DOC("first_bad", "seq", "the first broken record, when ok is false"), END}},
};

static json_t *ref(const char *name, size_t n)
{
	return json_sprintf("#/components/schemas/%.*s", (int)n, name);
}

/* `s` or null. */
static json_t *nullable(json_t *s)
{
	json_t *type = json_object_get(s, "type"), *e = json_object_get(s, "enum");
	if (json_object_get(s, "$ref"))
		return json_pack("{s:[o, {s:s}]}", "anyOf", s, "type", "null");
	if (json_is_string(type))
		json_object_set_new(s, "type", json_pack("[O, s]", type, "null"));
	if (json_is_array(e))
		json_array_append_new(e, json_null());
	return s;
}

static bool starts(const char *t, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(t, prefix, k) == 0;
}

static bool is(const char *t, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(t, word, n) == 0;
}

static json_t *type_schema(const char *t, size_t n)
{
	static const char time_pattern[] =
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$";

	if (starts(t, n, "map:"))
		return json_pack("{s:s, s:o}", "type", "object", "additionalProperties",
				 type_schema(t + 4, n - 4));
	if (n > 1 && t[n - 1] == '?')
		return nullable(type_schema(t, n - 1));
	if (n > 2 && t[n - 2] == '[' && t[n - 1] == ']')
		return json_pack("{s:s, s:o}", "type", "array", "items", type_schema(t, n - 2));
	if (starts(t, n, "pattern:"))
		return json_pack("{s:s, s:s%}", "type", "string", "pattern", t + 8, n - 8);
	if (starts(t, n, "id:"))
		return json_pack("{s:s, s:s+#+}", "type", "string", "pattern", "^", t + 3,
				 (int)(n - 3), "_[0-9A-Za-z]+$");
	if (starts(t, n, "const:"))
		return json_pack("{s:s, s:s%}", "type", "string", "const", t + 6, n - 6);
	if (starts(t, n, "enum:")) {
		json_t *values = json_array();
		for (const char *p = t + 5, *end = t + n; p < end;) {
			const char *bar = memchr(p, '|', (size_t)(end - p));
			size_t len = bar ? (size_t)(bar - p) : (size_t)(end - p);
			json_array_append_new(values, json_stringn(p, len));
			p += len + 1;
		}
		return json_pack("{s:s, s:o}", "type", "string", "enum", values);
	}
	if (n && isupper((unsigned char)t[0]))
		return json_pack("{s:o}", "$ref", ref(t, n));
	if (is(t, n, "string") || is(t, n, "integer") || is(t, n, "boolean") || is(t, n, "object"))
		return json_pack("{s:s%}", "type", t, n);
	if (is(t, n, "any"))
		return json_object();
	if (is(t, n, "uint"))
		return json_pack("{s:s, s:i}", "type", "integer", "minimum", 0);
	if (is(t, n, "money"))
		return json_pack("{s:s, s:s}", "type", "integer", "description",
				 "minor units of the currency (cents for USD)");
	if (is(t, n, "true"))
		return json_pack("{s:s, s:b}", "type", "boolean", "const", 1);
	if (is(t, n, "time"))
		return json_pack("{s:s, s:s, s:s}", "type", "string", "format", "date-time",
				 "pattern", time_pattern);
	if (is(t, n, "currency"))
		return json_pack("{s:s, s:s}", "type", "string", "pattern", "^([A-Z]{3}|POINT)$");
	if (is(t, n, "seq"))
		return json_pack("{s:s, s:s}", "type", "string", "pattern", "^[0-9]+$");
	if (is(t, n, "hex64"))
		return json_pack("{s:s, s:s}", "type", "string", "pattern", "^[0-9a-f]{64}$");
	if (is(t, n, "country"))
		return json_pack("{s:s, s:s}", "type", "string", "pattern", "^[A-Z]{2}$");
	/* a typo in a table: visible in the document, and the unit tests look for it */
	return json_pack("{s:s%}", "x-unknown-type", t, n);
}

json_t *openapi_type_schema(const char *type)
{
	json_t *s = type_schema(type, strlen(type));
	if (!s)
		ff_oom();
	return s;
}

static const struct object_schema *object_named(const char *name)
{
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		if (strcmp(objects[i].name, name) == 0)
			return &objects[i];
	return NULL;
}

/* Add the members of `o` (its base's first) to props and required. */
static void add_members(const struct object_schema *o, json_t *props, json_t *required)
{
	const struct object_schema *base = o->base ? object_named(o->base) : NULL;
	if (base)
		add_members(base, props, required);
	for (const struct member *m = o->members; m->name; m++) {
		json_t *s = openapi_type_schema(m->type);
		if (m->description)
			json_object_set_new(s, "description", json_string(m->description));
		json_object_set_new(props, m->name, s);
		bool listed = false;
		size_t i;
		json_t *v;
		json_array_foreach(required, i, v) listed =
		    listed || strcmp(json_string_value(v), m->name) == 0;
		if (!m->sometimes && !listed)
			json_array_append_new(required, json_string(m->name));
	}
}

static json_t *object_json(const struct object_schema *o)
{
	json_t *props = json_object(), *required = json_array();
	add_members(o, props, required);
	json_t *s = json_pack("{s:s, s:s, s:o}", "type", "object", "description", o->description,
			      "properties", props);
	if (!s)
		ff_oom();
	if (json_array_size(required))
		json_object_set_new(s, "required", required);
	else
		json_decref(required);
	return s;
}

json_t *openapi_list_schema(const char *item)
{
	json_t *s = json_pack(
	    "{s:s, s:s, s:[s,s,s], s:{s:{s:s, s:s}, s:{s:s, s:o}, s:{s:s}}}", "type", "object",
	    "description", "A page of a list (API.md \"Lists\")", "required", "object", "data",
	    "has_more", "properties", "object", "type", "string", "const", "list", "data", "type",
	    "array", "items", openapi_type_schema(item), "has_more", "type", "boolean");
	if (!s)
		ff_oom();
	return s;
}

json_t *openapi_schemas(void)
{
	json_t *schemas = json_object(), *codes = json_array(), *roles = json_array();

	for (int e = FF_E_INVALID; e < FF_E__COUNT; e++) {
		const char *code = ff_err_code((enum ff_err)e);
		bool listed = false;
		size_t i;
		json_t *v;
		json_array_foreach(codes, i, v) listed =
		    listed || strcmp(json_string_value(v), code) == 0;
		if (!listed)
			json_array_append_new(codes, json_string(code));
	}
	json_object_set_new(schemas, "ErrorCode",
			    json_pack("{s:s, s:s, s:o}", "type", "string", "description",
				      "The error codes of API.md (src/util/error.c)", "enum",
				      codes));
	for (int r = 0; r < ROLE__COUNT; r++)
		json_array_append_new(roles, json_string(role_name((enum role)r)));
	json_object_set_new(schemas, "Role",
			    json_pack("{s:s, s:s, s:o}", "type", "string", "description",
				      "An API key's role (docs/api-roles.md)", "enum", roles));
	for (size_t i = 0; i < sizeof(named_types) / sizeof(named_types[0]); i++) {
		json_t *s = openapi_type_schema(named_types[i].type);
		json_object_set_new(s, "description", json_string(named_types[i].description));
		json_object_set_new(schemas, named_types[i].name, s);
	}
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		json_object_set_new(schemas, objects[i].name, object_json(&objects[i]));
	return schemas;
}
