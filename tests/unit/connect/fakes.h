/*
 * fakes.h - start the local fake providers (the scripts in tests/fakes) from Criterion tests and
 * talk to their control endpoints.
 */
#ifndef FULFILL_TEST_FAKES_H
#define FULFILL_TEST_FAKES_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fulfill/http_client.h"
#include "testutil.h"

struct fake {
	pid_t pid;
	int port;
	char url[64];
};

/* Start `script` with extra args; reads the port it prints. */
static inline void fake_start(struct fake *f, const char *script, const char *a1, const char *a2, const char *a3,
			      const char *a4)
{
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* a test that times out takes its fake along */
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execlp("python3", "python3", script, a1, a2, a3, a4, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	char buf[32] = "";
	ssize_t n = 0, k;
	while (n < (ssize_t)sizeof(buf) - 1 && (k = read(fd[0], buf + n, 1)) == 1 && buf[n] != '\n')
		n++;
	buf[n] = '\0';
	close(fd[0]);
	f->pid = pid;
	f->port = atoi(buf);
	cr_assert_gt(f->port, 0, "fake %s did not start", script);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
}

static inline void fake_stop(struct fake *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
}

/* A control call; returns the JSON answer (caller frees). */
static inline json_t *fake_call(struct fake *f, const char *method, const char *path, const char *body)
{
	char url[128];
	snprintf(url, sizeof(url), "%s%s", f->url, path);
	struct http_call c;
	http_call_init(&c, method, url);
	if (body)
		http_call_body(&c, body, strlen(body));
	struct http_call *cs[1] = {&c};
	http_run(cs, 1, 1, "127.0.0.1");
	cr_assert_eq(c.status, 200, "fake control %s: %ld %s", path, c.status, c.error);
	json_t *v = json_loads(c.response.data, 0, NULL);
	http_call_release(&c);
	return v;
}

static inline void fake_mode(struct fake *f, const char *json)
{
	json_decref(fake_call(f, "POST", "/_mode", json));
}

static inline int64_t fake_stat(struct fake *f, const char *key)
{
	json_t *s = fake_call(f, "GET", "/_stats", NULL);
	int64_t v = json_integer_value(json_object_get(s, key));
	json_decref(s);
	return v;
}

#endif
