// SPDX-License-Identifier: GPL-2.0
/*
 * Runs every suite, or the tests whose name contains argv[1].  The last
 * line is "N passed, N failed"; the exit code is 1 if any failed.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "runner.h"

static int checks_failed;

bool t_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	checks_failed++;
	fprintf(stderr, "    %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

static const struct test *const suites[] = {
	size_tests, status_tests, qmpproto_tests, vnproto_tests,
	qmp_io_tests, vnuma_tests, libvirt_tests, plan_tests, daemon_tests,
	policy_tests, lock_tests,
};

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int passed = 0, failed = 0;
	size_t s;

	/* Library warnings are part of some tests; keep the output calm. */
	log_init("vnuma-tests", LOG_ERR - 1, false);
	for (s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
		const struct test *t;

		for (t = suites[s]; t->name; t++) {
			int before = checks_failed;

			if (filter && !strstr(t->name, filter))
				continue;
			t->fn();
			if (checks_failed == before) {
				passed++;
				printf("ok   %s\n", t->name);
			} else {
				failed++;
				printf("FAIL %s\n", t->name);
			}
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
