// SPDX-License-Identifier: GPL-2.0
/*
 * The checked mutexes of lock.h: vn_assert_held() passes for the holder
 * and aborts for anyone else, and misuse aborts instead of hanging.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lock.h"
#include "runner.h"

static pthread_mutex_t m;

/* Run @fn in a child: did it die of SIGABRT? */
static bool aborts(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		/* The abort message is expected: keep the test output clean. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void assert_unheld(void)
{
	vn_assert_held(&m);
}

static void lock_twice(void)
{
	vn_mutex_lock(&m);
	vn_mutex_lock(&m);
}

static void unlock_unheld(void)
{
	vn_mutex_unlock(&m);
}

static void *other_thread(void *arg)
{
	(void)arg;
	vn_assert_held(&m);
	return NULL;
}

/* Held by the main thread, asserted by another. */
static void assert_other_thread(void)
{
	pthread_t t;

	vn_mutex_lock(&m);
	pthread_create(&t, NULL, other_thread, NULL);
	/* Let it block on the mutex, then let go: it must abort. */
	usleep(10000);
	vn_mutex_unlock(&m);
	pthread_join(t, NULL);
}

static void test_lock_held(void)
{
	vn_mutex_init(&m);
	vn_mutex_lock(&m);
	vn_assert_held(&m);		/* returns: we hold it */
	vn_assert_held(&m);		/* and still hold it after */
	vn_mutex_unlock(&m);
	CHECK(pthread_mutex_trylock(&m) == 0);
	pthread_mutex_unlock(&m);
	pthread_mutex_destroy(&m);
}

static void test_lock_misuse_aborts(void)
{
	vn_mutex_init(&m);
	CHECK(aborts(assert_unheld));
	CHECK(aborts(assert_other_thread));
	CHECK(aborts(lock_twice));
	CHECK(aborts(unlock_unheld));
	pthread_mutex_destroy(&m);
}

const struct test lock_tests[] = {
	TEST(test_lock_held),
	TEST(test_lock_misuse_aborts),
	{ 0 }
};
