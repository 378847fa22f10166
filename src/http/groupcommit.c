/*
 * groupcommit.c - one writer thread that ingests events for every HTTP thread.
 *
 * A POST /v1/events request suspends its connection and hands a `struct gc_job` to
 * the queue. The writer takes everything waiting and writes it in ONE transaction:
 * engine_ingest() for the items (every event in its own savepoint, so a bad event
 * fails alone) with the idempotency records of the jobs that carry an
 * Idempotency-Key, then one commit (one fsync for the whole group); it renders each
 * job's answer and resumes its connection. In the usual case (one acting key) a single
 * engine_ingest() call owns that transaction; otherwise the writer opens it around one
 * call per key (see engine_owns_tx()). Under load the groups grow by themselves: while
 * one commit runs, the next group queues up.
 * With group commit turned off (FULFILL_HTTP_GROUP_COMMIT=0, for benchmarks) the
 * writer takes one job at a time: one transaction, one fsync, per request.
 */
#include <stdlib.h>
#include <string.h>

#include "fulfill/log.h"
#include "http/http_int.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gc_job *head, *tail;
	size_t depth;
	bool stop;
	bool running;
	bool group; /* take every waiting job, or one at a time */
	pthread_t thread;
	struct engine *eng;
	/* committed groups waiting for the syncer (engine_deferred_sync()) */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	struct gc_job *synced_head, *synced_tail;
	bool sync_stop;
	bool syncing;
	pthread_t syncer;
} gc = {.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.sync_lock = PTHREAD_MUTEX_INITIALIZER,
	.sync_cond = PTHREAD_COND_INITIALIZER};

void gc_job_free(struct gc_job *job)
{
	if (!job)
		return;
	for (size_t i = 0; i < job->n; i++) {
		json_decref(job->items[i].result);
		json_decref(job->items[i].parsed);
	}
	free(job->items);
	free(job->lines);
	free(job->pre);
	free(job->pre_lines);
	free(job->body);
	free(job);
}

/* Mark every item of every job failed with `err` (the transaction did not commit). */
static void fail_all(struct gc_job *jobs, enum ff_err err, const struct ff_diag *d)
{
	for (struct gc_job *j = jobs; j; j = j->next) {
		j->err = err;
		j->diag = *d;
		for (size_t i = 0; i < j->n; i++) {
			json_decref(j->items[i].result);
			j->items[i].result = NULL;
			j->items[i].err = err;
			j->items[i].diag = *d;
		}
		free(j->body);
		j->body = NULL;
	}
}

/* engine_ingest() the items of all jobs acting as the same key in one call. */
static enum ff_err ingest_group(struct gc_job *jobs, struct ff_diag *d)
{
	size_t njobs = 0;
	for (struct gc_job *j = jobs; j; j = j->next)
		njobs++;
	bool *seen = ff_calloc(njobs ? njobs : 1, sizeof(bool));
	enum ff_err err = FF_OK;
	size_t a = 0;

	for (struct gc_job *first = jobs; first && !err; first = first->next, a++) {
		if (seen[a])
			continue;
		size_t total = 0, b = a;
		for (struct gc_job *j = first; j; j = j->next, b++)
			if (!seen[b] && strcmp(j->actor.label, first->actor.label) == 0)
				total += j->n;
		struct ingest_item *flat = ff_calloc(total ? total : 1, sizeof(*flat));
		size_t k = 0;
		b = a;
		for (struct gc_job *j = first; j; j = j->next, b++) {
			if (seen[b] || strcmp(j->actor.label, first->actor.label) != 0)
				continue;
			memcpy(flat + k, j->items, j->n * sizeof(*flat));
			k += j->n;
		}
		if (total)
			err = engine_ingest(gc.eng, &first->actor, flat, total, d);
		k = 0;
		b = a;
		for (struct gc_job *j = first; j; j = j->next, b++) {
			if (seen[b] || strcmp(j->actor.label, first->actor.label) != 0)
				continue;
			memcpy(j->items, flat + k, j->n * sizeof(*flat));
			k += j->n;
			seen[b] = true;
		}
		free(flat);
	}
	free(seen);
	return err;
}

/*
 * Can engine_ingest() own the transaction? Yes when every job acts as the same key and
 * no NDJSON job needs its idempotency record (the rendered answer) stored beside it: a
 * single event's record is stored by the engine, in the event's savepoint (the body is
 * the same bytes events_render() sends). Otherwise process() wraps the ingest in a
 * transaction of its own - which costs SQLite an extra savepoint level around every
 * event, measured at 3 to 4 times the CPU time of the ingest itself (bench/README.md).
 */
static bool engine_owns_tx(const struct gc_job *jobs)
{
	for (const struct gc_job *j = jobs; j; j = j->next)
		if (strcmp(j->actor.label, jobs->actor.label) != 0 || (j->idem_scope && j->lines))
			return false;
	return true;
}

/* Everything in one transaction of ours: engine_ingest() per key, then the NDJSON
 * idempotency records, then one commit. */
static enum ff_err ingest_wrapped(struct gc_job *jobs, struct ff_diag *d)
{
	enum ff_err err = engine_tx_begin(gc.eng);
	if (err) {
		ff_fail(d, err, NULL, "could not begin a transaction");
		return err;
	}
	err = ingest_group(jobs, d);
	/* the idempotency records go into the same transaction as the events */
	for (struct gc_job *j = jobs; j && !err; j = j->next) {
		if (!j->idem_scope)
			continue;
		events_render(j);
		if (j->status >= 200 && j->status < 300) {
			err = engine_idem_store(gc.eng, j->idem_scope, j->idem_key, j->idem_fp,
						j->status, j->body);
			if (err)
				ff_fail(d, err, NULL, "could not store the idempotency record");
		}
	}
	if (!err) {
		err = engine_tx_commit(gc.eng);
		if (err)
			ff_fail(d, err, NULL, "could not commit the events");
	}
	if (err)
		engine_tx_rollback(gc.eng);
	return err;
}

/* Render each job's answer and resume its connection. */
static void answer(struct gc_job *jobs)
{
	while (jobs) {
		struct gc_job *next = jobs->next;
		struct MHD_Connection *conn = jobs->conn;
		if (!jobs->body)
			events_render(jobs);
		jobs->next = NULL;
		atomic_store(&jobs->done, true);
		/* after this the job belongs to the request's thread again */
		MHD_resume_connection(conn);
		jobs = next;
	}
}

/*
 * The syncer: one fdatasync for every group committed since the last one, then their
 * answers. Should the disk refuse, those events are stored (a retry finds them as
 * duplicates) but nobody is told they were: every item answers 500.
 */
static void *syncer_main(void *arg)
{
	pthread_setname_np(pthread_self(), "ff-syncer"); /* top -H, perf */
	(void)arg;
	pthread_mutex_lock(&gc.sync_lock);
	for (;;) {
		while (!gc.synced_head && !gc.sync_stop)
			pthread_cond_wait(&gc.sync_cond, &gc.sync_lock);
		struct gc_job *jobs = gc.synced_head;
		gc.synced_head = gc.synced_tail = NULL;
		if (!jobs && gc.sync_stop)
			break;
		pthread_mutex_unlock(&gc.sync_lock);
		if (engine_sync(gc.eng) != 0) {
			struct ff_diag d;
			ff_fail(&d, FF_E_STORE, NULL, "the events could not be made durable: retry them");
			log_msg("error", "group commit: %s", d.message);
			fail_all(jobs, FF_E_STORE, &d);
		}
		answer(jobs);
		pthread_mutex_lock(&gc.sync_lock);
	}
	pthread_mutex_unlock(&gc.sync_lock);
	return NULL;
}

static void process(struct gc_job *jobs)
{
	struct ff_diag d;
	enum ff_err err;

	ff_diag_clear(&d);
	if (engine_owns_tx(jobs)) {
		for (struct gc_job *j = jobs; j; j = j->next) {
			if (!j->idem_scope)
				continue;
			j->items[0].idem_scope = j->idem_scope;
			j->items[0].idem_key = j->idem_key;
			j->items[0].idem_fingerprint = j->idem_fp;
		}
		/* one call, one transaction (and commit) owned by the engine */
		err = ingest_group(jobs, &d);
	} else {
		err = ingest_wrapped(jobs, &d);
	}
	/* the parsed events are done with: not kept until the answers are sent */
	for (struct gc_job *j = jobs; j; j = j->next)
		for (size_t i = 0; i < j->n; i++) {
			json_decref(j->items[i].parsed);
			j->items[i].parsed = NULL;
		}
	if (err) {
		if (!d.message[0])
			ff_fail(&d, err, NULL, "the events could not be stored");
		log_msg("error", "group commit failed: %s", d.message);
		fail_all(jobs, err, &d);
	} else {
		size_t njobs = 0;
		for (struct gc_job *j = jobs; j; j = j->next)
			njobs++;
		metrics_group_commit(njobs);
		for (struct gc_job *j = jobs; j; j = j->next) {
			for (size_t i = 0; i < j->npre; i++)
				metrics_event("rejected");
			for (size_t i = 0; i < j->n; i++)
				metrics_event(
				    j->items[i].err ? "rejected"
				    : json_is_string(json_object_get(j->items[i].result, "outcome"))
					? json_string_value(
					      json_object_get(j->items[i].result, "outcome"))
					: "accepted");
		}
	}
	if (!err && gc.syncing) {
		/* committed, not yet durable: the syncer answers once the disk has it, while
		 * this thread goes on with the next group */
		struct gc_job *last = jobs;
		while (last->next)
			last = last->next;
		/* the answers are rendered by the syncer (answer()), beside this thread: a
		 * job's results are its own values (jansson's reference counts are atomic,
		 * and nothing the engine keeps is part of them) */
		pthread_mutex_lock(&gc.sync_lock);
		if (gc.synced_tail)
			gc.synced_tail->next = jobs;
		else
			gc.synced_head = jobs;
		gc.synced_tail = last;
		pthread_cond_signal(&gc.sync_cond);
		pthread_mutex_unlock(&gc.sync_lock);
		return;
	}
	answer(jobs);
}

static void *writer_main(void *arg)
{
	pthread_setname_np(pthread_self(), "ff-writer"); /* top -H, perf */
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&gc.lock);
		while (!gc.head && !gc.stop)
			pthread_cond_wait(&gc.cond, &gc.lock);
		struct gc_job *jobs = gc.head;
		if (gc.group || !jobs) {
			gc.head = gc.tail = NULL;
			gc.depth = 0;
		} else {
			gc.head = jobs->next;
			if (!gc.head)
				gc.tail = NULL;
			gc.depth--;
			jobs->next = NULL;
		}
		bool stop = gc.stop;
		pthread_mutex_unlock(&gc.lock);
		if (jobs)
			process(jobs);
		else if (stop)
			break;
	}
	return NULL;
}

/* Answer what is left and stop the syncer (after the writer stopped). */
static void stop_syncer(void)
{
	if (!gc.syncing)
		return;
	pthread_mutex_lock(&gc.sync_lock);
	gc.sync_stop = true;
	pthread_cond_signal(&gc.sync_cond);
	pthread_mutex_unlock(&gc.sync_lock);
	pthread_join(gc.syncer, NULL);
	gc.syncing = false;
}

int groupcommit_start(const struct engine_config *cfg, bool group)
{
	struct ff_diag d;

	ff_diag_clear(&d);
	/* one transaction per request is measured as it would run without group commit:
	 * every commit synced before it returns */
	struct engine_config writer = *cfg;
	writer.writer = group;
	if (engine_open(&writer, &gc.eng, &d) != FF_OK) {
		log_msg("error", "group commit: cannot open the database: %s", d.message);
		return -1;
	}
	gc.stop = false;
	gc.group = group;
	gc.sync_stop = false;
	gc.syncing = engine_deferred_sync(gc.eng);
	if (gc.syncing && pthread_create(&gc.syncer, NULL, syncer_main, NULL) != 0) {
		engine_close(gc.eng);
		gc.eng = NULL;
		return -1;
	}
	if (pthread_create(&gc.thread, NULL, writer_main, NULL) != 0) {
		stop_syncer();
		engine_close(gc.eng);
		gc.eng = NULL;
		return -1;
	}
	gc.running = true;
	return 0;
}

void groupcommit_stop(void)
{
	if (!gc.running)
		return;
	pthread_mutex_lock(&gc.lock);
	gc.stop = true;
	pthread_cond_signal(&gc.cond);
	pthread_mutex_unlock(&gc.lock);
	pthread_join(gc.thread, NULL);
	stop_syncer();
	gc.running = false;
	engine_close(gc.eng);
	gc.eng = NULL;
}

/* Suspend the job's connection and queue the job, or refuse (false, nothing suspended)
 * once the writer is stopping: a connection suspended after the writer's last group
 * would never be resumed, and libmicrohttpd aborts when stopped with one. The check and
 * the suspension happen under the queue's lock, so no job slips in after the stop. */
bool groupcommit_submit(struct gc_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&gc.lock);
	if (gc.stop) {
		pthread_mutex_unlock(&gc.lock);
		return false;
	}
	/* suspended before it is queued: the writer may answer (and resume) at once */
	MHD_suspend_connection(job->conn);
	if (gc.tail)
		gc.tail->next = job;
	else
		gc.head = job;
	gc.tail = job;
	gc.depth++;
	pthread_cond_signal(&gc.cond);
	pthread_mutex_unlock(&gc.lock);
	return true;
}

size_t groupcommit_depth(void)
{
	pthread_mutex_lock(&gc.lock);
	size_t n = gc.depth;
	pthread_mutex_unlock(&gc.lock);
	return n;
}
