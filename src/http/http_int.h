/*
 * http_int.h - the private interface between the files of src/http/.
 *
 * One request flows: request.c (libmicrohttpd access handler) -> router.c (match the
 * route table) -> auth.c (key, role, rate limit) -> idempotency.c (replay, in-flight
 * set) -> a handler in handlers_*.c, which parses the request, calls one engine
 * function and leaves the result in `struct ctx` -> respond.c renders it.
 * Single events instead go to groupcommit.c, whose writer thread ingests everything
 * waiting in one transaction while the connection is suspended.
 */
#ifndef FULFILL_HTTP_INT_H
#define FULFILL_HTTP_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fulfill/buf.h"
#include "fulfill/engine.h"
#include "fulfill/error.h"
#include "fulfill/http.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_PARAM_MAX 128
#define HTTP_JSON_MAX_DEPTH 64
#define HTTP_NDJSON_MAX_LINES 10000
#define HTTP_IDEM_KEY_MAX 255
#define HTTP_REQUEST_ID_MAX 128
/* The header block we accept: the request line and the header fields, line ends
 * included, at most HTTP_HEADER_MAX bytes, and at most HTTP_HEADER_FIELDS_MAX header
 * fields, query parameters and cookies in all. Beyond either: 431
 * request_header_too_large, answered by request.c like any other error. */
#define HTTP_HEADER_MAX (16 * 1024)
#define HTTP_HEADER_FIELDS_MAX 100
/* What libmicrohttpd's pool spends on each header field, query parameter or cookie
 * besides its bytes (its struct MHD_HTTP_Header, 0.9.75; measured). */
#define HTTP_HEADER_FIELD_COST 64
/* Per-connection memory of libmicrohttpd (MHD_OPTION_CONNECTION_MEMORY_LIMIT). The
 * whole header block must fit in it before request.c sees the request; a larger one is
 * refused by libmicrohttpd itself, with a bare 431 of its own. So it is made larger than
 * the most our limits let through (bytes plus the cost of every field), leaving the
 * rest for reading the body and writing the answer, and the band between our limits
 * and the pool gets our 431 with the error body, X-Request-Id, log line and metrics.
 * It is not made larger than that: the pool is allocated per connection and cleared
 * for every request on a kept-alive connection, so http_max_connections x
 * HTTP_CONN_MEMORY is the worst case of this memory (docs/configuration.md). */
#define HTTP_CONN_MEMORY (32 * 1024)
_Static_assert(
    HTTP_HEADER_MAX + HTTP_HEADER_FIELDS_MAX * HTTP_HEADER_FIELD_COST + 8 * 1024 <=
	HTTP_CONN_MEMORY,
    "a header block within the limits must fit in libmicrohttpd's pool with room to spare");

/* ---- route table (router.c) ---- */

struct ctx;
typedef enum ff_err (*handler_fn)(struct ctx *c);

/* Role bits for route.roles. */
#define R_ADMIN (1u << ROLE_ADMIN)
#define R_OPERATOR (1u << ROLE_OPERATOR)
#define R_FINANCE (1u << ROLE_FINANCE)
#define R_AUDITOR (1u << ROLE_AUDITOR)
#define R_INGEST (1u << ROLE_INGEST)
#define R_FULFILLER (1u << ROLE_FULFILLER)
#define R_PARTNER (1u << ROLE_PARTNER)
#define R_READ (R_ADMIN | R_OPERATOR | R_FINANCE | R_AUDITOR)
#define R_PUBLIC 0u /* no key needed */

/* Route flags. */
#define RF_BODY 1u	  /* takes a request body */
#define RF_GROUPCOMMIT 2u /* answered by the group-commit writer (events) */
#define RF_STATIC 4u	  /* static file, not JSON */
#define RF_CSV 8u	  /* a text/csv body is accepted too */
#define RF_NOJSON 16u	  /* with RF_CSV: CSV only */
#define RF_OWN_TX 32u	  /* runs transactions of its own (a worker pass): see run_idempotent */

struct route {
	const char *method;  /* "GET", "POST", "PUT", "DELETE" */
	const char *pattern; /* "/v1/programs/{id}/versions/{n}" */
	handler_fn handler;
	unsigned roles;	     /* R_* bits; R_PUBLIC for no authentication */
	unsigned flags;	     /* RF_* */
	const char *query;   /* comma-separated allowed query parameters, or NULL */
	const char *body;    /* comma-separated body fields (documentation), or NULL */
	int status;	     /* success status (200, 201) */
	/* the success body, for the OpenAPI document: a schema of openapi_schemas.c
	 * ("Reward"), "list:Reward" for a list of them, "EventResult|NdjsonResult" for
	 * one of several, or a media type ("text/csv") for a body that is not JSON */
	const char *resp;
	const char *summary; /* one line for the OpenAPI document */
};

extern const struct route http_routes[];
extern const size_t http_routes_count;

/* Match `method` + `path` against the table. Returns the route and fills `params`
 * (HTTP_MAX_PARAMS x HTTP_PARAM_MAX) with the {placeholders} in order. When the path
 * matches but the method does not, returns NULL and sets *out_path_known and writes
 * the allowed methods ("GET, POST") into `allow`. */
const struct route *router_match(const char *method, const char *path,
				 char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX], bool *out_path_known,
				 char *allow, size_t allow_len);
/* Index of a route in http_routes (for metrics). */
size_t router_index(const struct route *r);

/* ---- OpenAPI (openapi.c, openapi_schemas.c) ---- */

/* The OpenAPI 3.1 document generated from http_routes (new reference). */
json_t *openapi_build(void);
/* components.schemas: the named schemas of the API's answers (new reference). */
json_t *openapi_schemas(void);
/* The JSON schema of a type in the notation of openapi_schemas.c ("string", "time?",
 * "Money[]", "Reward": a $ref), as a new reference. */
json_t *openapi_type_schema(const char *type);
/* The schema of a list page {"object": "list", "data": [item...], "has_more"} whose
 * items are of type `item` (that notation), as a new reference. */
json_t *openapi_list_schema(const char *item);

/* The files of the static routes (handlers_admin.c): extension and Content-Type. */
struct static_type {
	const char *ext, *type;
};
extern const struct static_type http_static_types[];
extern const size_t http_static_types_count;

/* ---- per-request state (request.c) ---- */

struct gc_job;

struct request {
	int64_t t0_ns;
	char method[16];
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	const struct route *route;
	/* for a 405: a route of the path (another method), so that the log line and the
	 * metrics name the pattern rather than "unmatched" */
	const struct route *path_route;
	char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX];
	struct actor actor;
	bool authed;
	struct ffbuf body;
	uint64_t received; /* body bytes seen, kept or not */
	bool too_large;
	/* an error found with the headers, answered once the body is read */
	enum ff_err early_err;
	struct ff_diag early_diag;
	char allow[64];	 /* for 405 */
	int retry_after; /* for 429 */
	bool answered;	 /* a response was queued */
	int status;	 /* status of the queued response, for log and metrics */
	/* idempotency */
	bool has_idem;
	char idem_key[HTTP_IDEM_KEY_MAX + 1];
	char idem_fp[65];
	bool idem_held; /* we hold the in-flight slot */
	/* group commit */
	struct gc_job *job;
	bool suspended;
};

/* What a handler works with, and leaves its answer in. */
struct ctx {
	struct MHD_Connection *conn;
	struct request *req;
	struct engine *eng;	   /* this thread's engine */
	const struct actor *actor; /* NULL on public routes */
	const char *method;
	const char *path;
	const char *body;
	size_t body_len;
	const char *ctype; /* request Content-Type or NULL */
	struct ff_diag diag;
	/* answer */
	int status;  /* 0 = the route's success status */
	json_t *out; /* JSON body (owned) */
	char *raw;   /* or a raw body (owned, free()) */
	size_t raw_len;
	const char *raw_ctype;
	bool page;	/* raw is a static page: respond_page() with etag */
	char etag[64];	/* the page's validator ("size-mtime") */
	bool suspended; /* handler suspended the connection (group commit) */
};

/* ---- server-wide state (server.c) ---- */

struct server {
	struct engine_config cfg;
	struct http_options opt;
	char web_root[1024];
	struct MHD_Daemon *mhd;
	atomic_bool stopping;
	atomic_int inflight; /* requests between first call and completion */
	char *openapi_text;  /* rendered once at start */
};

extern struct server *http_server;

/* This thread's engine, opened on first use; NULL (and d filled) when the database
 * cannot be opened. Closed by server.c at shutdown. */
struct engine *server_engine(struct ff_diag *d);
/* Register an engine opened by a helper thread so shutdown closes it. */
void server_engine_register(struct engine *e);

int64_t http_now_ns(void);

/* ---- the request lifecycle (request.c): libmicrohttpd callbacks ---- */

/* libmicrohttpd's URI log callback: called once the request line is parsed, before the
 * headers. It marks *con_cls (the request itself is allocated when the headers are
 * in), and so makes libmicrohttpd call request_completed() even for a request whose
 * headers it refuses itself, which then logs and counts that refusal. */
void *request_begin(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result request_access(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls);
void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		       enum MHD_RequestTerminationCode toe);

/* ---- auth and rate limits (auth.c) ---- */

/* Authenticate the Authorization header into req->actor (accepted keys are cached
 * for a second, see auth.c). */
enum ff_err auth_authenticate(struct MHD_Connection *conn, struct engine *e, struct actor *out,
			      struct ff_diag *d);
/* Forget every cached key (after a revocation through this server). */
void auth_cache_clear(void);
void ratelimit_init(int per_sec, int burst);
void ratelimit_free(void);
/* Take a token for `key_prefix`; false (and *out_retry_after seconds) when empty. */
bool ratelimit_take(const char *key_prefix, int *out_retry_after);

/* ---- limits on connections (connlimit.c) ---- */

/* Count connections per address and refuse beyond `per_address` (0: no limit); close a
 * connection that has waited `header_seconds` (0: no bound) for a request's header. */
void connlimit_init(int per_address, int header_seconds);
/* libmicrohttpd's accept policy and connection notification callbacks. */
enum MHD_Result connlimit_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void connlimit_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe);
/* The connection's request header is complete / its request is over (it waits for the
 * next header). */
void connlimit_header_done(struct MHD_Connection *conn);
void connlimit_request_done(struct MHD_Connection *conn);
/* Stops the header deadline's thread: after libmicrohttpd has stopped. */
void connlimit_free(void);

/* ---- idempotency (idempotency.c) ---- */

void idem_init(void);
void idem_free(void);
/* Fingerprint = SHA-256 of method, path, query arguments (in order; `query` as
 * idem_query() writes them) and body, hex into out (65 bytes). */
void idem_fingerprint(const char *method, const char *path, const char *query, const char *body, size_t len,
		      char *out);
/* The request's query arguments, decoded and in order, as an unambiguous text for
 * idem_fingerprint (each key and value prefixed with its length). Caller frees. */
char *idem_query(struct MHD_Connection *conn);
/* Claim (scope, key) for this request; false when another request holds it. */
bool idem_acquire(const char *scope, const char *key);
void idem_release(const char *scope, const char *key);

/* ---- group commit (groupcommit.c) ---- */

/* A unit of work for the writer: one or more events from one request. */
struct gc_job {
	struct ingest_item *items;
	size_t n;
	size_t *lines; /* NDJSON: the line number of each item; NULL for a single event */
	/* NDJSON lines refused before the engine (bad UTF-8, too deep): err/diag only */
	struct ingest_item *pre;
	size_t *pre_lines;
	size_t npre;
	struct actor actor;
	/* idempotency record to store in the same transaction (NULL scope = none) */
	const char *idem_scope;
	const char *idem_key;
	const char *idem_fp;
	struct MHD_Connection *conn;
	/* out */
	enum ff_err err; /* the transaction failed: every item failed */
	struct ff_diag diag;
	int status;
	char *body; /* the rendered response (owned) */
	struct gc_job *next;
	atomic_bool done;
};

/* Start the writer. `group` false: one transaction per job (request) instead of one
 * for everything waiting - only to measure what group commit buys. */
int groupcommit_start(const struct engine_config *cfg, bool group);
/* Drain the queue, stop the writer, close its engine. */
void groupcommit_stop(void);
/* Hand a job to the writer; it resumes job->conn when job->done. */
bool groupcommit_submit(struct gc_job *job);
size_t groupcommit_depth(void);
void gc_job_free(struct gc_job *job);

/* Render the answer of an events job (single or NDJSON) into job->status/body. */
void events_render(struct gc_job *job);

/* ---- metrics (metrics.c) ---- */

void metrics_init(void);
/* One request answered with `status` on route `r` (NULL: unmatched); `seconds` < 0 when
 * it was not timed (refused before its headers reached us): counted, not observed. */
void metrics_request(const struct route *r, const char *method, int status, double seconds);
/* libmicrohttpd answered a request with `status` itself (server.c reads it from its
 * error log): counted whatever the stage, the request line included. */
void metrics_parser_refusal(int status);
/* A connection closed because its request header took longer than http_request_timeout. */
void metrics_header_timeout(void);
void metrics_event(const char *outcome);
void metrics_worker_pass(double seconds);
/* One group-commit transaction that carried `jobs` requests. */
void metrics_group_commit(size_t jobs);
/* Prometheus text (malloc'd). `e` may be NULL (no reward gauge). */
char *metrics_render(struct engine *e, size_t *out_len);

/* ---- responses (respond.c) ---- */

/* Queue `body` (taken over) with `status` as JSON; adds X-Request-Id. */
enum MHD_Result respond_json(struct MHD_Connection *conn, struct request *req, int status,
			     json_t *body);
/* Queue bytes as-is (copied). `extra_name`/`extra_value` may be NULL. */
enum MHD_Result respond_raw(struct MHD_Connection *conn, struct request *req, int status,
			    const char *ctype, const char *data, size_t len, const char *extra_name,
			    const char *extra_value);
/* Queue a static page of the console or the portal (copied): like respond_raw, with
 * the headers a browser page needs instead of the API's "no-store": a
 * Content-Security-Policy that allows this origin only (no inline script, no
 * third-party resource), framing refused, no referrer, and "Cache-Control: no-cache"
 * with `etag` (may be NULL), so a browser revalidates on every load and gets 304 while
 * the file is unchanged. */
enum MHD_Result respond_page(struct MHD_Connection *conn, struct request *req, int status,
			     const char *ctype, const char *data, size_t len, const char *etag);
/* Queue {"error":{"code","message","param"?}} for err/d. */
enum MHD_Result respond_error(struct MHD_Connection *conn, struct request *req, enum ff_err err,
			      const struct ff_diag *d);
/* Same with a printf message. */
enum MHD_Result respond_fail(struct MHD_Connection *conn, struct request *req, enum ff_err err,
			     const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The error object as text (malloc'd), for NDJSON lines and stored bodies. */
json_t *error_object(enum ff_err err, const struct ff_diag *d);
/* Serialize for the wire (compact, key order preserved); malloc'd. */
char *json_text(const json_t *v, size_t *out_len);

/* ---- request parsing helpers (respond.c) ---- */

/* true when `s` is well-formed UTF-8. */
bool utf8_valid(const char *s, size_t len);
/* Nesting depth of JSON text (brackets outside strings). */
int json_depth(const char *s, size_t len);
/* Parse a JSON body into an object (empty body = {}); checks UTF-8, depth, duplicate
 * keys, and that every key is one of `allowed` (comma-separated; NULL = any). */
enum ff_err body_object(struct ctx *c, const char *allowed, json_t **out);
/* An optional string member of a body object: NULL when absent or null; sets *bad when
 * it is not a non-empty string shorter than HTTP_PARAM_MAX. */
const char *body_string(json_t *doc, const char *name, bool *bad);
/* Query parameter or NULL. */
const char *query_get(struct ctx *c, const char *name);
/* limit and starting_after into p. */
enum ff_err query_page(struct ctx *c, struct page *p);
/* Is Content-Type `ctype` the media type `want` (parameters such as charset allowed)? */
bool media_type_is(const char *ctype, const char *want);

/* ---- handlers (handlers_*.c) ---- */

enum ff_err h_events(struct ctx *c);
enum ff_err h_program_put(struct ctx *c);
enum ff_err h_program_list(struct ctx *c);
enum ff_err h_program_get(struct ctx *c);
enum ff_err h_program_version(struct ctx *c);
enum ff_err h_program_diff(struct ctx *c);
enum ff_err h_program_approve(struct ctx *c);
enum ff_err h_program_activate(struct ctx *c);
enum ff_err h_program_rollback(struct ctx *c);
enum ff_err h_participant_list(struct ctx *c);
enum ff_err h_participant_get(struct ctx *c);
enum ff_err h_participant_referrals(struct ctx *c);
enum ff_err h_participant_rewards(struct ctx *c);
enum ff_err h_participant_redeem(struct ctx *c);
enum ff_err h_participant_tax_form(struct ctx *c);
enum ff_err h_referral_get(struct ctx *c);
enum ff_err h_conversion_get(struct ctx *c);
enum ff_err h_reward_list(struct ctx *c);
enum ff_err h_reward_get(struct ctx *c);
enum ff_err h_reward_explain(struct ctx *c);
enum ff_err h_reward_approve(struct ctx *c);
enum ff_err h_reward_reject(struct ctx *c);
enum ff_err h_reward_retry(struct ctx *c);
enum ff_err h_reward_cancel(struct ctx *c);
enum ff_err h_jobs_run(struct ctx *c);
enum ff_err h_report_participants(struct ctx *c);
enum ff_err h_key_create(struct ctx *c);
enum ff_err h_key_revoke(struct ctx *c);
enum ff_err h_audit_list(struct ctx *c);
enum ff_err h_audit_verify(struct ctx *c);
enum ff_err h_healthz(struct ctx *c);
enum ff_err h_readyz(struct ctx *c);
enum ff_err h_metrics(struct ctx *c);
enum ff_err h_openapi(struct ctx *c);
enum ff_err h_static(struct ctx *c);
enum ff_err h_me(struct ctx *c);
enum ff_err h_program_simulate(struct ctx *c);
enum ff_err h_batch_create(struct ctx *c);
enum ff_err h_batch_list(struct ctx *c);
enum ff_err h_batch_get(struct ctx *c);
enum ff_err h_batch_report(struct ctx *c);
enum ff_err h_batch_close(struct ctx *c);
enum ff_err h_batch_fulfill(struct ctx *c);
enum ff_err h_batch_reconcile(struct ctx *c);
enum ff_err h_report_payouts(struct ctx *c);
enum ff_err h_report_aging(struct ctx *c);
enum ff_err h_report_tax(struct ctx *c);
enum ff_err h_report_kpis(struct ctx *c);
enum ff_err h_report_credit_status(struct ctx *c);
enum ff_err h_connector_put(struct ctx *c);
enum ff_err h_connector_list(struct ctx *c);
enum ff_err h_connector_get(struct ctx *c);
enum ff_err h_connector_delete(struct ctx *c);
enum ff_err h_connector_reconcile(struct ctx *c);
enum ff_err h_reconciliation_create(struct ctx *c);
enum ff_err h_code_pool_put(struct ctx *c);
enum ff_err h_code_pool_list(struct ctx *c);
enum ff_err h_code_pool_get(struct ctx *c);
enum ff_err h_code_pool_upload(struct ctx *c);
enum ff_err h_code_set_status(struct ctx *c);
enum ff_err h_webhook_create(struct ctx *c);
enum ff_err h_webhook_list(struct ctx *c);
enum ff_err h_webhook_get(struct ctx *c);
enum ff_err h_webhook_delete(struct ctx *c);
enum ff_err h_webhook_deliveries(struct ctx *c);
enum ff_err h_notifications(struct ctx *c);
enum ff_err h_blocklist_list(struct ctx *c);
enum ff_err h_blocklist_add(struct ctx *c);
enum ff_err h_blocklist_delete(struct ctx *c);
enum ff_err h_rewards_review(struct ctx *c);
enum ff_err h_tax_settings(struct ctx *c);
enum ff_err h_tax_threshold_put(struct ctx *c);
enum ff_err h_tax_types_put(struct ctx *c);
enum ff_err h_fx_list(struct ctx *c);
enum ff_err h_fx_put(struct ctx *c);
enum ff_err h_fee_list(struct ctx *c);
enum ff_err h_fee_put(struct ctx *c);

/* Query parameter `name` as an RFC 3339 time or date into *out (0 when absent). */
enum ff_err query_time(struct ctx *c, const char *name, int64_t *out);
/* Check ?format= (json or csv) before the engine runs; *out_csv true for csv. */
enum ff_err query_format(struct ctx *c, bool *out_csv);
/* Answer a report object (taken over) as JSON, or as CSV through engine_report_csv. */
enum ff_err report_answer(struct ctx *c, bool csv, json_t *doc);

/* The path parameter i of the current request. */
static inline const char *ctx_param(const struct ctx *c, int i) { return c->req->params[i]; }

#endif
