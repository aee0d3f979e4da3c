/*
 * lib/pool.c — the CPU backend's worker threads (lib/pool.h).
 *
 * A pool of T - 1 POSIX threads that sleep on a condition variable; the
 * calling thread is the T-th worker.  lc_pool_run hands out the task indices
 * 0 .. n-1 through an atomic counter, runs tasks itself too, and returns when
 * every task has finished.  Which thread runs a task is a matter of speed
 * only: every caller splits its work so that each task writes outputs no
 * other task writes, with the same arithmetic whatever thread runs it (the
 * matmul's column blocks: docs/numerics.md 6, "Threads"), so the bits never
 * depend on the thread count.
 *
 * One lc_pool_run at a time per pool (a context is used by one thread at a
 * time: include/layercast.h); a run started from inside a task runs inline.  The threads are
 * created with the context and joined when it is freed; if fewer can be created than asked for, the
 * pool runs with those (a pool of one runs every task on the caller).
 */
#define _POSIX_C_SOURCE 200809L

#include "lib/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "lib/lc_alloc.h"

struct lc_pool {
  pthread_mutex_t mu;
  pthread_cond_t wake; /* workers: a new generation, or stop */
  pthread_cond_t done; /* the caller: every task finished */
  pthread_t *threads;
  int n_threads;     /* created workers (the caller not counted) */
  unsigned long gen; /* bumped by each lc_pool_run */
  int stop;
  /* the current job */
  void (*fn)(void *arg, int task);
  void *arg;
  int n_tasks;
  atomic_int next; /* the next task index to hand out */
  int finished;    /* tasks finished, under mu */
  int active;      /* workers inside the current generation, under mu */
};

/* Set while this thread runs a pool task: an lc_pool_run from inside a task
 * (an op of a row-parallel decode pass, lib/session.c, calling the matmul's
 * own split) runs its tasks inline on this thread instead of waiting for a
 * pool whose threads are all busy with the outer run. */
static _Thread_local int tls_in_task;

/* Runs tasks of the current job until none is left; returns how many it ran. */
static int drain(lc_pool *p) {
  int ran = 0;
  tls_in_task = 1;
  for (;;) {
    const int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
    if (t >= p->n_tasks) break;
    p->fn(p->arg, t);
    ran++;
  }
  tls_in_task = 0;
  return ran;
}

static void *worker(void *vp) {
  lc_pool *p = vp;
  unsigned long seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && p->gen == seen) pthread_cond_wait(&p->wake, &p->mu);
    if (p->stop) break;
    seen = p->gen;
    p->active++;
    pthread_mutex_unlock(&p->mu);
    const int ran = drain(p);
    pthread_mutex_lock(&p->mu);
    p->finished += ran;
    p->active--;
    if (p->finished == p->n_tasks && p->active == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

lc_pool *lc_pool_create(int threads) {
  if (threads < 2) return NULL;
  lc_pool *p = lc_calloc(1, sizeof *p);
  if (!p) return NULL;
  p->threads = lc_calloc((size_t)(threads - 1), sizeof *p->threads);
  if (!p->threads) {
    free(p);
    return NULL;
  }
  if (pthread_mutex_init(&p->mu, NULL) != 0) goto fail_mu;
  if (pthread_cond_init(&p->wake, NULL) != 0) goto fail_wake;
  if (pthread_cond_init(&p->done, NULL) != 0) goto fail_done;
  atomic_init(&p->next, 0);
  for (int i = 0; i < threads - 1; i++) {
    if (pthread_create(&p->threads[i], NULL, worker, p) != 0) break;
    p->n_threads++;
  }
  return p;
fail_done:
  pthread_cond_destroy(&p->wake);
fail_wake:
  pthread_mutex_destroy(&p->mu);
fail_mu:
  free(p->threads);
  free(p);
  return NULL;
}

int lc_pool_threads(const lc_pool *p) {
  return p ? p->n_threads + 1 : 1;
}

void lc_pool_run(lc_pool *p, int n_tasks, void (*fn)(void *arg, int task), void *arg) {
  if (n_tasks <= 0) return;
  if (!p || p->n_threads == 0 || n_tasks == 1 || tls_in_task) {
    for (int t = 0; t < n_tasks; t++) fn(arg, t);
    return;
  }
  pthread_mutex_lock(&p->mu);
  /* a worker late for the previous run may still be draining it (it found
   * no task left): the job's fields change only once none is */
  while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
  p->fn = fn;
  p->arg = arg;
  p->n_tasks = n_tasks;
  p->finished = 0;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);
  p->gen++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  const int ran = drain(p);
  pthread_mutex_lock(&p->mu);
  p->finished += ran;
  /* every task handed out has finished, and no worker is still draining
   * this generation (so the next run cannot be confused with this one) */
  while (p->finished < p->n_tasks || p->active > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

void lc_pool_free(lc_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}
