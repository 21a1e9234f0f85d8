/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mutexes whose "held" comments are checked, as lockdep_assert_held()
 * checks the kernel's: vn_mutex_init() makes an error-checking mutex,
 * vn_mutex_lock()/vn_mutex_unlock() abort on misuse (a second lock by
 * the owner, an unlock by another thread) instead of hanging or
 * corrupting, and vn_assert_held() aborts unless the calling thread
 * holds the mutex.
 */
#ifndef VN_LOCK_H
#define VN_LOCK_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static inline void vn_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
}

static inline void vn_lock_bug(const char *what, const char *file, int line,
			       const char *how)
{
	fprintf(stderr, "%s:%d: %s %s\n", file, line, what, how);
	abort();
}

#define vn_mutex_lock(m)						\
	do {								\
		if (pthread_mutex_lock(m))				\
			vn_lock_bug(#m, __FILE__, __LINE__,		\
				    "locked twice");			\
	} while (0)

#define vn_mutex_unlock(m)						\
	do {								\
		if (pthread_mutex_unlock(m))				\
			vn_lock_bug(#m, __FILE__, __LINE__,		\
				    "unlocked but not held");		\
	} while (0)

/*
 * The owner's lock of an error-checking mutex fails with EDEADLK.  A
 * thread that does not hold it gets it (once its holder lets go) and
 * aborts: that is a bug either way.
 */
#define vn_assert_held(m)						\
	do {								\
		int __r = pthread_mutex_lock(m);			\
		if (__r != EDEADLK) {					\
			if (!__r)					\
				pthread_mutex_unlock(m);		\
			vn_lock_bug(#m, __FILE__, __LINE__, "not held");\
		}							\
	} while (0)

#endif /* VN_LOCK_H */
