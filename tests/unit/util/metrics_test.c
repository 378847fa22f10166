/*
 * metrics_test.c - unit tests for src/util/metrics.c: histogram buckets are cumulative
 * with +Inf == _count, label values are sanitised, the connector label set is capped
 * (the rest count as "other"), and webhook outcome counters always render.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/metrics.h"

static char *render(void)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	ffmetrics_render(&b);
	return ffbuf_detach(&b, NULL);
}

Test(metrics, empty_render_has_types_and_zero_counters)
{
	ffmetrics_reset();
	char *t = render();
	cr_expect(strstr(t, "# TYPE fulfill_connector_call_seconds histogram\n"));
	cr_expect(strstr(t, "# TYPE fulfill_webhook_deliveries_total counter\n"));
	cr_expect(strstr(t, "fulfill_webhook_deliveries_total{result=\"success\"} 0\n"));
	cr_expect(strstr(t, "fulfill_webhook_deliveries_total{result=\"retry\"} 0\n"));
	cr_expect(strstr(t, "fulfill_webhook_deliveries_total{result=\"failed\"} 0\n"));
	cr_expect_null(strstr(t, "connector=\""));
	free(t);
}

Test(metrics, histogram_is_cumulative)
{
	ffmetrics_reset();
	ffmetrics_connector_call("ledger", 0.0002);
	ffmetrics_connector_call("ledger", 0.02);
	ffmetrics_connector_call("ledger", 120); /* beyond the last bucket */
	ffmetrics_connector_call("stripe_main", 0.3);
	char *t = render();
	cr_expect(strstr(t, "fulfill_connector_call_seconds_bucket{connector=\"ledger\",le=\"0.001\"} 1\n"));
	cr_expect(strstr(t, "fulfill_connector_call_seconds_bucket{connector=\"ledger\",le=\"0.025\"} 2\n"));
	cr_expect(strstr(t, "fulfill_connector_call_seconds_bucket{connector=\"ledger\",le=\"60\"} 2\n"));
	cr_expect(strstr(t, "fulfill_connector_call_seconds_bucket{connector=\"ledger\",le=\"+Inf\"} 3\n"));
	cr_expect(strstr(t, "fulfill_connector_call_seconds_count{connector=\"ledger\"} 3\n"));
	cr_expect(strstr(t, "fulfill_connector_call_seconds_sum{connector=\"ledger\"} 120.020200\n"), "%s", t);
	cr_expect(strstr(t, "fulfill_connector_call_seconds_bucket{connector=\"stripe_main\",le=\"0.25\"} 0\n"));
	cr_expect(strstr(t, "fulfill_connector_call_seconds_bucket{connector=\"stripe_main\",le=\"0.5\"} 1\n"));
	free(t);
}

Test(metrics, labels_sanitised_and_capped)
{
	ffmetrics_reset();
	ffmetrics_connector_call("we\"ird\nname", 0.01);
	ffmetrics_connector_call("", 0.01);
	for (int i = 0; i < FFMETRICS_MAX_CONNECTORS + 5; i++) {
		char name[32];
		snprintf(name, sizeof(name), "c%d", i);
		ffmetrics_connector_call(name, 0.01);
	}
	char *t = render();
	cr_expect(strstr(t, "connector=\"we_ird_name\""));
	cr_expect(strstr(t, "connector=\"unknown\""));
	cr_expect_null(strstr(t, "\"we\"ird"));
	/* two names above plus the first 30 of c0..c36; the remaining 7 are "other" */
	cr_expect(strstr(t, "connector=\"c29\""));
	cr_expect_null(strstr(t, "connector=\"c30\""));
	cr_expect(strstr(t, "fulfill_connector_call_seconds_count{connector=\"other\"} 7\n"), "%s", t);
	free(t);
}

Test(metrics, webhook_counters_add_up)
{
	ffmetrics_reset();
	ffmetrics_webhook_delivery(FFMETRICS_WEBHOOK_SUCCESS, 3);
	ffmetrics_webhook_delivery(FFMETRICS_WEBHOOK_RETRY, 1);
	ffmetrics_webhook_delivery(FFMETRICS_WEBHOOK_SUCCESS, 1);
	ffmetrics_webhook_delivery(FFMETRICS_WEBHOOK__COUNT, 9); /* ignored */
	char *t = render();
	cr_expect(strstr(t, "fulfill_webhook_deliveries_total{result=\"success\"} 4\n"));
	cr_expect(strstr(t, "fulfill_webhook_deliveries_total{result=\"retry\"} 1\n"));
	cr_expect(strstr(t, "fulfill_webhook_deliveries_total{result=\"failed\"} 0\n"));
	free(t);
}
