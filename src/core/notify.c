/*
 * notify.c - e-mail notifications to referrers and referred friends (SPEC §9a).
 *
 * A program opts in with a "notifications" field:
 *
 *   "notifications": {
 *     "from": "Acme Rewards <rewards@acme.test>",
 *     "milestones": ["earned", "fulfilled", "cancelled", "reversed", "tax_form_required"],
 *     "to": ["referrer", "referred"],
 *     "templates": {"fulfilled": {"subject": "...", "text": "...", "html": "..."}}
 *   }
 *
 * Templates use {{participant.name}}, {{reward.code}}, {{reward.amount}}, ... (the
 * list is `placeholders` below); values are HTML-escaped in "html". An unknown
 * placeholder is refused when the program is saved. Milestones without a template use
 * a built-in one.
 *
 * The message is rendered and written (sealed: it holds the address) to the
 * `notifications` outbox in the transaction of the reward change, once per reward and
 * milestone. The worker sends it over SMTP (libcurl: STARTTLS, AUTH) from the "smtp"
 * connector configuration. Exactly-once bookkeeping: an attempt is leased in a
 * committed transaction; the moment the server accepts the DATA command is committed
 * too (data_started). If a worker dies after that point the message may have been
 * delivered, so it is never sent again (status "unknown", for an operator to look
 * at) - a retry only ever follows an attempt that provably did not hand the message
 * over. Participants with attributes.email_opt_out = true, blocked participants and
 * participants without an e-mail get nothing.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect/connector.h"
#include "core/core.h"
#include "fulfill/buf.h"
#include "fulfill/crypto.h"
#include "fulfill/money.h"

static const char *const milestones[] = {"earned", "fulfilled", "cancelled", "reversed", "tax_form_required", NULL};

static const char *const placeholders[] = {
	"participant.name", "participant.id",	  "participant.email", "reward.id",
	"reward.code",	    "reward.amount",	  "reward.currency",   "reward.type",
	"reward.reason",    "reward.status",	  "reward.hold_until", "reward.estimated_payout",
	"reward.link",	    "reward.reference",   "reward.percent",    "program.name",
	"program.id",	    NULL};

static const char *const default_templates[][3] = {
	{"earned", "You earned a reward: {{reward.amount}}",
	 "Hi {{participant.name}},\n\nYou earned a reward of {{reward.amount}} in {{program.name}}.\n"
	 "Estimated payout: {{reward.estimated_payout}}.\n"},
	{"fulfilled", "Your reward is here",
	 "Hi {{participant.name}},\n\nYour reward of {{reward.amount}} has been delivered.\n"
	 "Code: {{reward.code}}\nLink: {{reward.link}}\n"},
	{"cancelled", "Your reward was cancelled",
	 "Hi {{participant.name}},\n\nYour reward of {{reward.amount}} was cancelled: {{reward.reason}}.\n"},
	{"reversed", "Your reward was reversed",
	 "Hi {{participant.name}},\n\nYour reward of {{reward.amount}} was reversed: {{reward.reason}}.\n"},
	{"tax_form_required", "A tax form is needed for your reward",
	 "Hi {{participant.name}},\n\nTo receive your reward of {{reward.amount}} we need a tax form on file.\n"},
};

#define MAX_ATTEMPTS 8
static const int64_t retry_after_ms[] = {0, 5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000};

static bool in_list(const char *s, const char *const *l)
{
	for (; *l; l++)
		if (!strcmp(s, *l))
			return true;
	return false;
}

/* The name inside the placeholder "{{ name }}" that opens at `open` and closes at `end`
 * (the "}}"), without the spaces around it: its start, and its length in *out_n. */
static const char *placeholder_name(const char *open, const char *end, size_t *out_n)
{
	const char *s = open + 2;
	while (*s == ' ')
		s++;
	size_t n = (size_t)(end - s);
	while (n && s[n - 1] == ' ')
		n--;
	*out_n = n;
	return s;
}

static enum ff_err check_template(const char *t, const char *param, struct ff_diag *d)
{
	const char *p = t;
	while ((p = strstr(p, "{{"))) {
		const char *end = strstr(p + 2, "}}");
		if (!end)
			return ff_fail(d, FF_E_INVALID, param, "unterminated placeholder in %s", param);
		char name[64];
		size_t n;
		const char *s = placeholder_name(p, end, &n);
		if (n >= sizeof(name))
			return ff_fail(d, FF_E_INVALID, param, "unknown placeholder in %s", param);
		memcpy(name, s, n);
		name[n] = '\0';
		if (!in_list(name, placeholders))
			return ff_fail(d, FF_E_INVALID, param, "unknown placeholder {{%s}} in %s", name, param);
		p = end + 2;
	}
	return FF_OK;
}

enum ff_err notify_compile(json_t *v, struct ff_diag *d)
{
	if (!v)
		return FF_OK;
	if (!json_is_object(v))
		return ff_fail(d, FF_E_INVALID, "notifications", "notifications must be an object");
	const char *k;
	json_t *x;
	char param[200];
	json_object_foreach(v, k, x)
	{
		snprintf(param, sizeof(param), "notifications.%s", k);
		if (!strcmp(k, "from")) {
			if (!json_is_string(x) || !strchr(json_string_value(x), '@') || json_string_length(x) > 300 ||
			    strpbrk(json_string_value(x), "\r\n"))
				return ff_fail(d, FF_E_INVALID, param, "from must be an e-mail address");
		} else if (!strcmp(k, "milestones") || !strcmp(k, "to")) {
			if (!json_is_array(x))
				return ff_fail(d, FF_E_INVALID, param, "%s must be an array", param);
			size_t i;
			json_t *m;
			static const char *const roles[] = {"referrer", "referred", NULL};
			json_array_foreach(x, i, m) if (!json_is_string(m) ||
							!in_list(json_string_value(m), !strcmp(k, "to") ? roles : milestones)) return ff_fail(
				d, FF_E_INVALID, param, "unknown value in %s", param);
		} else if (!strcmp(k, "templates")) {
			if (!json_is_object(x))
				return ff_fail(d, FF_E_INVALID, param, "templates must be an object");
			const char *mk;
			json_t *tpl;
			json_object_foreach(x, mk, tpl)
			{
				snprintf(param, sizeof(param), "notifications.templates.%s", mk);
				if (!in_list(mk, milestones))
					return ff_fail(d, FF_E_UNKNOWN_FIELD, param, "unknown milestone %s", mk);
				if (!json_is_object(tpl))
					return ff_fail(d, FF_E_INVALID, param, "a template is an object");
				const char *tk;
				json_t *tv;
				json_object_foreach(tpl, tk, tv)
				{
					snprintf(param, sizeof(param), "notifications.templates.%s.%s", mk, tk);
					if (strcmp(tk, "subject") && strcmp(tk, "text") && strcmp(tk, "html"))
						return ff_fail(d, FF_E_UNKNOWN_FIELD, param, "unknown field %s", tk);
					if (!json_is_string(tv) || json_string_length(tv) > 100000)
						return ff_fail(d, FF_E_INVALID, param, "%s must be a string", param);
					enum ff_err err = check_template(json_string_value(tv), param, d);
					if (err)
						return err;
				}
			}
		} else {
			return ff_fail(d, FF_E_UNKNOWN_FIELD, param, "unknown field %s", param);
		}
	}
	return FF_OK;
}

/* ---- rendering ---- */

static void html_escape(struct ffbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': ffbuf_adds(b, "&amp;"); break;
		case '<': ffbuf_adds(b, "&lt;"); break;
		case '>': ffbuf_adds(b, "&gt;"); break;
		case '"': ffbuf_adds(b, "&quot;"); break;
		case '\'': ffbuf_adds(b, "&#39;"); break;
		default: ffbuf_add(b, s, 1);
		}
	}
}

static char *render(const char *t, json_t *vars, bool html, bool one_line)
{
	struct ffbuf b;
	ffbuf_init(&b, 1 << 20);
	const char *p = t;
	for (;;) {
		const char *o = strstr(p, "{{");
		const char *end = o ? strstr(o + 2, "}}") : NULL;
		if (!o || !end) {
			ffbuf_adds(&b, p);
			break;
		}
		ffbuf_add(&b, p, (size_t)(o - p));
		char name[64];
		size_t n;
		const char *s = placeholder_name(o, end, &n);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, s, n);
		name[n] = '\0';
		const char *val = json_string_value(json_object_get(vars, name));
		if (val && html)
			html_escape(&b, val);
		else if (val)
			ffbuf_adds(&b, val);
		p = end + 2;
	}
	char *out = ffbuf_detach(&b, NULL);
	if (one_line)
		for (char *c = out; *c; c++)
			if (*c == '\r' || *c == '\n')
				*c = ' ';
	return out;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, json_string(v ? v : ""));
}

enum ff_err notify_reward(struct engine *e, const struct reward *r, const char *milestone, struct ff_diag *d)
{
	const struct program *prog = program_version_get(e, r->program, (int)r->program_version);
	json_t *cfg = prog ? json_object_get(prog->doc, "notifications") : NULL;
	if (!cfg)
		return FF_OK;
	json_t *ms = json_object_get(cfg, "milestones");
	if (ms) {
		bool want = false;
		size_t i;
		json_t *m;
		json_array_foreach(ms, i, m) want |= !strcmp(json_string_value(m), milestone);
		if (!want)
			return FF_OK;
	}
	json_t *to_roles = json_object_get(cfg, "to");
	if (to_roles) {
		bool want = false;
		size_t i;
		json_t *m;
		json_array_foreach(to_roles, i, m) want |= !strcmp(json_string_value(m), r->role);
		if (!want)
			return FF_OK;
	}
	json_t *p = participant_json(e, r->participant);
	if (!p)
		return FF_OK;
	const char *email = json_string_value(json_object_get(p, "email"));
	const char *status = json_string_value(json_object_get(p, "status"));
	json_t *optout = json_object_get(json_object_get(p, "attributes"), "email_opt_out");
	if (!email || !*email || (status && !strcmp(status, "blocked")) || json_is_true(optout)) {
		json_decref(p);
		return FF_OK;
	}
	json_t *vars = json_object();
	const char *name = json_string_value(json_object_get(p, "name"));
	set_str(vars, "participant.name", name && *name ? name : r->participant);
	set_str(vars, "participant.id", r->participant);
	set_str(vars, "participant.email", email);
	set_str(vars, "reward.id", r->id);
	set_str(vars, "reward.code", r->code);
	char buf[64], amount[80] = "";
	if (r->has_amount && r->currency[0]) {
		money_format(r->amount, r->currency, buf, sizeof(buf));
		snprintf(amount, sizeof(amount), "%s %s", buf, r->currency);
	} else if (r->has_percent) {
		snprintf(amount, sizeof(amount), "%lld.%02lld%% off", (long long)(r->percent_bp / 100),
			 (long long)(r->percent_bp % 100));
	}
	set_str(vars, "reward.amount", amount);
	set_str(vars, "reward.currency", r->currency);
	set_str(vars, "reward.type", r->type);
	set_str(vars, "reward.reason", r->reason);
	set_str(vars, "reward.status", r->status);
	set_str(vars, "reward.hold_until", r->has_hold ? fftime_format(r->hold_until, buf, sizeof(buf)) : "");
	int64_t payout = r->has_release ? r->release_at : r->created_at;
	set_str(vars, "reward.estimated_payout", fftime_format(payout, buf, sizeof(buf)));
	set_str(vars, "reward.link", !strncmp(r->external_reference, "http", 4) ? r->external_reference : "");
	set_str(vars, "reward.reference", r->external_reference);
	if (r->has_percent)
		snprintf(buf, sizeof(buf), "%lld.%02lld%%", (long long)(r->percent_bp / 100), (long long)(r->percent_bp % 100));
	set_str(vars, "reward.percent", r->has_percent ? buf : "");
	set_str(vars, "program.name", prog->name);
	set_str(vars, "program.id", prog->id);

	json_t *tpl = json_object_get(json_object_get(cfg, "templates"), milestone);
	const char *subject = json_string_value(json_object_get(tpl, "subject"));
	const char *text = json_string_value(json_object_get(tpl, "text"));
	const char *html = json_string_value(json_object_get(tpl, "html"));
	for (size_t i = 0; i < sizeof(default_templates) / sizeof(default_templates[0]); i++) {
		if (strcmp(default_templates[i][0], milestone))
			continue;
		if (!subject)
			subject = default_templates[i][1];
		if (!text && !html)
			text = default_templates[i][2];
	}
	char id[40];
	crypto_random_id("ntf", id, sizeof(id));
	char *rs = render(subject, vars, false, true);
	char *rt = text ? render(text, vars, false, false) : NULL;
	char *rh = html ? render(html, vars, true, false) : NULL;
	const char *from = json_string_value(json_object_get(cfg, "from"));
	json_t *msg = json_pack("{s:s?, s:s, s:s, s:s?, s:s?, s:s}", "from", from, "to", email, "subject", rs, "text",
				rt, "html", rh, "milestone", milestone);
	free(rs);
	free(rt);
	free(rh);
	char *msg_text = json_dumps(msg, JSON_COMPACT);
	char *sealed = crypto_seal(e->cfg.master_key, msg_text);
	free(msg_text);
	json_decref(msg);
	json_decref(vars);
	json_decref(p);
	struct store_stmt *st = store_query(e->st, Q_NOTIFY_INSERT);
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, r->id);
	store_bind_text(st, 3, r->participant);
	store_bind_text(st, 4, milestone);
	store_bind_text(st, 5, sealed);
	store_bind_int(st, 6, fftime_now());
	store_notify_work(e->st);
	enum ff_err err = store_exec_ahead(st) ? core_store_fail(e, d, "notification") : FF_OK;
	free(sealed);
	return err;
}

/* ---- sending ---- */

struct upload {
	const char *data;
	size_t len, pos;
	struct engine *e;
	const char *id;
	bool started;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	if (!u->started) {
		/* the server said 354 to DATA: from here on the message may arrive. Commit
		 * that before the first byte goes out. */
		u->started = true;
		struct ff_diag d;
		if (core_begin(u->e, &d) == FF_OK) {
			struct store_stmt *st = store_query(u->e->st, Q_NOTIFY_DATA_STARTED);
			store_bind_text(st, 1, u->id);
			enum ff_err err = store_exec(st) ? FF_E_STORE : FF_OK;
			if (core_end(u->e, err, &d) != FF_OK)
				return CURL_READFUNC_ABORT;
		} else {
			return CURL_READFUNC_ABORT;
		}
	}
	size_t room = size * n, left = u->len - u->pos;
	size_t k = left < room ? left : room;
	memcpy(buf, u->data + u->pos, k);
	u->pos += k;
	return k;
}

/* "Name <a@b>" -> "a@b" */
static void bare_address(const char *s, char *out, size_t n)
{
	const char *lt = strchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		snprintf(out, n, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, n, "%s", s);
}

/* The Subject header within RFC 5322's line limits: a short ASCII subject as it is,
 * otherwise RFC 2047 encoded words (42 bytes each, whole UTF-8
 * characters: 68 characters, a line of 78 at most), folded one per line. */
static void subject_header(struct ffbuf *b, const char *s)
{
	size_t len = strlen(s);
	bool ascii = true;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		ascii &= *c < 0x80;
	if (ascii && len <= 78 - strlen("Subject: ")) {
		ffbuf_addf(b, "Subject: %s\r\n", s);
		return;
	}
	ffbuf_adds(b, "Subject:");
	for (size_t i = 0; i < len;) {
		size_t k = len - i < 42 ? len - i : 42;
		while (k < len - i && k > 1 && ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--; /* not inside a character */
		char *enc = crypto_base64(s + i, k);
		ffbuf_addf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : " ", enc);
		free(enc);
		i += k;
	}
	ffbuf_adds(b, "\r\n");
}

/* The longest line of `s` in bytes, line ends (LF or CRLF) not counted. */
static size_t longest_line(const char *s)
{
	size_t most = 0, cur = 0;
	for (; *s; s++) {
		if (*s == '\n' || (*s == '\r' && s[1] == '\n')) {
			most = cur > most ? cur : most;
			cur = 0;
			if (*s == '\r')
				s++;
		} else {
			cur++;
		}
	}
	return cur > most ? cur : most;
}

/* Quoted-printable (RFC 2045 6.7): lines of at most 76 characters, LF or CRLF -> CRLF. */
static void qp_encode(struct ffbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\n' || (*c == '\r' && c[1] == '\n')) {
			ffbuf_adds(b, "\r\n");
			col = 0;
			if (*c == '\r')
				c++;
			continue;
		}
		bool end = !c[1] || c[1] == '\n' || (c[1] == '\r' && c[2] == '\n');
		char e[3] = {(char)*c, 0, 0};
		size_t n = 1;
		if (!((*c >= 33 && *c <= 126 && *c != '=') || ((*c == ' ' || *c == '\t') && !end))) {
			e[0] = '=';
			e[1] = hex[*c >> 4];
			e[2] = hex[*c & 15];
			n = 3;
		}
		if (col + n > 75) { /* a soft break: "=" ends the line at 76 */
			ffbuf_adds(b, "=\r\n");
			col = 0;
		}
		ffbuf_add(b, e, n);
		col += n;
	}
}

static char *compose(json_t *msg, const char *id, const char *from)
{
	struct ffbuf b;
	ffbuf_init(&b, 4 << 20);
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	const char *subject = json_string_value(json_object_get(msg, "subject"));
	const char *text = json_string_value(json_object_get(msg, "text"));
	const char *html = json_string_value(json_object_get(msg, "html"));
	ffbuf_addf(&b, "Date: %s\r\nFrom: %s\r\nTo: <%s>\r\nMessage-ID: <%s@fulfill>\r\nMIME-Version: 1.0\r\n", date,
		   from, json_string_value(json_object_get(msg, "to")), id);
	subject_header(&b, subject ? subject : "");
	const char *parts[2][2] = {{"text/plain", text}, {"text/html", html}};
	int nparts = (text != NULL) + (html != NULL);
	if (nparts > 1)
		ffbuf_addf(&b, "Content-Type: multipart/alternative; boundary=\"=_%s\"\r\n\r\n", id);
	for (int i = 0; i < 2; i++) {
		if (!parts[i][1])
			continue;
		if (nparts > 1)
			ffbuf_addf(&b, "--=_%s\r\n", id);
		/* 8bit lines may not pass 998 bytes (RFC 5321/5322: relays refuse or break
		 * them); a part with a longer one (minified HTML) goes quoted-printable */
		bool qp = longest_line(parts[i][1]) > 998;
		ffbuf_addf(&b, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: %s\r\n\r\n",
			   parts[i][0], qp ? "quoted-printable" : "8bit");
		if (qp)
			qp_encode(&b, parts[i][1]);
		else /* normalise line ends to CRLF */
			for (const char *c = parts[i][1]; *c; c++) {
				if (*c == '\n' && (c == parts[i][1] || c[-1] != '\r'))
					ffbuf_adds(&b, "\r\n");
				else
					ffbuf_add(&b, c, 1);
			}
		ffbuf_adds(&b, "\r\n");
	}
	if (nparts > 1)
		ffbuf_addf(&b, "--=_%s--\r\n", id);
	return ffbuf_detach(&b, NULL);
}

enum notify_outcome { SENT, RETRY, FAIL, UNKNOWN };

static enum notify_outcome smtp_send(struct engine *e, const struct connector_conf *conf, const char *id, json_t *msg,
				     char *err, size_t err_n, bool *started)
{
	const char *url = connector_conf_str(conf, "url");
	const char *from = json_string_value(json_object_get(msg, "from"));
	if (!from)
		from = connector_conf_str(conf, "from");
	if (!url || !from) {
		snprintf(err, err_n, "the smtp connector needs url and from");
		return RETRY;
	}
	char env_from[320], rcpt[320];
	bare_address(from, env_from, sizeof(env_from));
	snprintf(rcpt, sizeof(rcpt), "<%s>", json_string_value(json_object_get(msg, "to")));
	char mail_from[330];
	snprintf(mail_from, sizeof(mail_from), "<%s>", env_from);
	char *data = compose(msg, id, from);
	struct upload u = {.data = data, .len = strlen(data), .e = e, .id = id};
	CURL *h = curl_easy_init();
	struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
	curl_easy_setopt(h, CURLOPT_URL, url);
	/* SMTP only, whatever the stored URL says (connector_config.c refuses others) */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u.len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, conf->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, conf->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	json_t *tls = json_object_get(conf->config, "starttls");
	if (json_is_true(tls))
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	const char *user = connector_conf_str(conf, "username"), *pass = connector_conf_str(conf, "password");
	if (user)
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
	if (pass)
		curl_easy_setopt(h, CURLOPT_PASSWORD, pass);
	CURLcode rc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(h);
	free(data);
	*started = u.started;
	if (rc == CURLE_OK)
		return SENT;
	snprintf(err, err_n, "smtp: %s (last reply %ld)", curl_easy_strerror(rc), code);
	if (u.started && u.pos >= u.len && !(code >= 400))
		return UNKNOWN; /* the whole message went out, no verdict came back */
	if (code >= 500 && code < 600)
		return FAIL;
	return RETRY;
}

/* When a lease taken now ends: long enough for one message (the transfer is bounded by
 * the connector's timeout), from the real clock - a pass's `now` is when it began. */
static int64_t lease_end(const struct connector_conf *conf, int64_t now)
{
	int64_t t = fftime_now() > now ? fftime_now() : now;
	return t + conf->timeout_ms * 2 + 5000;
}

/* Messages go out one after another under leases taken together, so a message's lease
 * may be over by its turn, and another worker may have leased it and be sending it:
 * just before sending, the lease starts again, only while it is still ours (*out_ours;
 * else it is skipped). */
static enum ff_err renew(struct engine *e, const struct connector_conf *conf, const char *id, int64_t attempts,
			 int64_t now, bool *out_ours, struct ff_diag *d)
{
	*out_ours = false;
	enum ff_err err = core_begin(e, d);
	if (err)
		return err;
	struct store_stmt *st = store_query(e->st, Q_NOTIFY_RENEW);
	store_bind_int(st, 1, lease_end(conf, now));
	store_bind_int(st, 2, fftime_now());
	store_bind_text(st, 3, id);
	store_bind_int(st, 4, attempts);
	if (store_exec(st))
		err = core_store_fail(e, d, "notification lease");
	else
		*out_ours = store_changes(e->st) == 1;
	return core_end(e, err, d);
}

enum ff_err notify_deliver_pass(struct engine *e, int64_t now, int64_t *out_sent, struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return err;
	json_t *ids = json_array();
	struct store_stmt *st = store_query(e->st, Q_NOTIFY_DUE);
	store_bind_int(st, 1, now);
	store_bind_int(st, 2, 64);
	err = core_collect_ids(e, st, ids, "notifications due", d);
	if (err || !json_array_size(ids)) {
		json_decref(ids);
		return core_end(e, err, d);
	}
	struct connector_conf conf;
	bool have_conf = connector_conf_load(e, "smtp", &conf, NULL) == FF_OK && !strcmp(conf.type, "smtp");
	json_t *work = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		st = store_query(e->st, Q_NOTIFY_GET);
		store_bind_text(st, 1, json_string_value(v));
		if (store_step(st) != 1)
			continue;
		char id[40];
		copy_str(id, sizeof(id), store_col_text(st, 0));
		char *sealed = ff_strdup(store_col_text(st, 4));
		int64_t attempts = store_col_int(st, 6);
		bool started = store_col_int(st, 7) != 0;
		if (started) {
			/* a worker died after handing the message over: never twice */
			st = store_query(e->st, Q_NOTIFY_RESULT);
			store_bind_text(st, 1, "unknown");
			store_bind_null(st, 2);
			store_bind_text(st, 3, "interrupted after the message data was sent; not resent to avoid a duplicate");
			store_bind_int(st, 4, fftime_now());
			store_bind_text(st, 5, id);
			store_bind_int(st, 6, 1);
			err = store_exec(st) ? core_store_fail(e, d, "notification") : FF_OK;
		} else if (!have_conf) {
			st = store_query(e->st, Q_NOTIFY_RESULT);
			store_bind_text(st, 1, "pending");
			store_bind_int(st, 2, now + 60000);
			store_bind_text(st, 3, "no smtp connector configured");
			store_bind_int(st, 4, fftime_now());
			store_bind_text(st, 5, id);
			store_bind_int(st, 6, 0);
			err = store_exec(st) ? core_store_fail(e, d, "notification") : FF_OK;
		} else {
			st = store_query(e->st, Q_NOTIFY_LEASE);
			store_bind_int(st, 1, lease_end(&conf, now));
			store_bind_int(st, 2, fftime_now());
			store_bind_text(st, 3, id);
			store_bind_int(st, 4, attempts);
			if (store_exec(st))
				err = core_store_fail(e, d, "notification lease");
			else if (store_changes(e->st) == 1)
				json_array_append_new(work, json_pack("{s:s, s:s, s:I}", "id", id, "sealed", sealed,
								      "attempts", (json_int_t)(attempts + 1)));
		}
		free(sealed);
		if (err)
			break;
	}
	json_decref(ids);
	err = core_end(e, err, d);
	json_array_foreach(work, i, v)
	{
		if (err)
			break;
		const char *id = json_string_value(json_object_get(v, "id"));
		int64_t attempts = json_integer_value(json_object_get(v, "attempts"));
		bool ours = false;
		if ((err = renew(e, &conf, id, attempts, now, &ours, d)))
			break;
		if (!ours)
			continue; /* its lease ran out while the ones before it went: another worker's now */
		char *plain = core_unseal(e, json_string_value(json_object_get(v, "sealed")));
		json_t *msg = plain ? json_loads(plain, 0, NULL) : NULL;
		free(plain);
		char why[300] = "";
		bool started = false;
		enum notify_outcome o = msg ? smtp_send(e, &conf, id, msg, why, sizeof(why), &started) : FAIL;
		if (!msg)
			snprintf(why, sizeof(why), "cannot read the sealed message");
		json_decref(msg);
		const char *status = o == SENT ? "sent" : o == UNKNOWN ? "unknown" : o == FAIL ? "failed" : "pending";
		if (o == RETRY && attempts >= MAX_ATTEMPTS)
			status = "failed";
		bool retry = !strcmp(status, "pending");
		if ((err = core_begin(e, d)))
			break;
		st = store_query(e->st, Q_NOTIFY_RESULT);
		store_bind_text(st, 1, status);
		store_bind_int_or_null(st, 2, now + retry_after_ms[attempts < MAX_ATTEMPTS ? attempts : 0], !retry);
		store_bind_text(st, 3, why[0] ? why : NULL);
		store_bind_int(st, 4, fftime_now());
		store_bind_text(st, 5, id);
		/* a retry follows only an attempt that did not hand the message over */
		store_bind_int(st, 6, retry ? 0 : started);
		err = store_exec(st) ? core_store_fail(e, d, "notification") : FF_OK;
		err = core_end(e, err, d);
		if (o == SENT)
			(*out_sent)++;
	}
	json_decref(work);
	if (have_conf)
		connector_conf_release(&conf);
	return err;
}

enum ff_err engine_notifications_list(struct engine *e, const struct actor *a, const char *reward,
				      const struct page *p, json_t **out, struct ff_diag *d)
{
	(void)a;
	int limit = page_limit(p);
	struct store_stmt *st = store_query(e->st, Q_NOTIFY_LIST);
	store_bind_text(st, 1, reward);
	store_bind_int(st, 2, limit + 1);
	store_bind_text(st, 3, p ? p->starting_after : NULL);
	json_t *data = json_array();
	int rc;
	while ((rc = store_step(st)) == 1)
		json_array_append_new(
			data, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "id", store_col_text(st, 0),
					"object", "notification", "reward", store_col_text(st, 1), "participant",
					store_col_text(st, 2), "milestone", store_col_text(st, 3), "status",
					store_col_text(st, 4), "attempts", (json_int_t)store_col_int(st, 5), "last_error",
					store_col_null(st, 6) ? json_null() : json_string(store_col_text(st, 6)),
					"created_at", json_time(store_col_int(st, 7), true), "updated_at",
					json_time(store_col_int(st, 8), true)));
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "notifications"));
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}
