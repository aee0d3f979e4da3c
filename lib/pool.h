/*
 * lib/pool.h — worker threads for the CPU backend (lib/pool.c).
 *
 * lc_pool_create(T): T - 1 threads beside the caller; NULL for T < 2 or when
 * nothing could be allocated (callers then run their tasks inline: a NULL
 * pool is valid everywhere).  lc_pool_run(p, n, fn, arg) calls fn(arg, t)
 * once for every t in 0 .. n-1, on the pool's threads and the caller's, and
 * returns when all have returned.  Tasks must write disjoint outputs; which
 * thread runs one must not change a bit of it.  One run at a time per pool;
 * lc_pool_run called from inside a task runs that run's tasks inline, on the
 * calling thread.
 */
#ifndef LC_POOL_H
#define LC_POOL_H

typedef struct lc_pool lc_pool;

lc_pool *lc_pool_create(int threads);
/* threads that run tasks: the workers created plus the caller (1 for NULL) */
int lc_pool_threads(const lc_pool *p);
void lc_pool_run(lc_pool *p, int n_tasks, void (*fn)(void *arg, int task), void *arg);
void lc_pool_free(lc_pool *p);

#endif /* LC_POOL_H */
