// A small fork–join pool: the caller publishes a job in one 64-bit word, workers claim chunks
// from it with compare-and-swap, and idle workers spin briefly before they park on a condition
// variable. See thread_pool.h for why it exists.
#include "include/thread_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

enum { maximum_workers = 255, maximum_chunks = 0xFFFF };

// The job word: generation (bits 32–63) | chunk count (16–31) | next unclaimed chunk (0–15).
// A worker may claim chunk `next` only with a CAS on the whole word, so a worker that woke late
// and still holds an old generation can never run a chunk of a newer job with stale fields.
static _Atomic uint64_t job_word;
static winnow_chunk_function job_function;  // written before the word is published (release)
static void *job_context;
static _Atomic int64_t chunks_finished;

static atomic_flag pool_busy = ATOMIC_FLAG_INIT;
static _Atomic int parked_workers;
static _Atomic int64_t spin_nanoseconds = -1;  // -1: not yet read from the environment
static int started_workers;                    // guarded by start_lock
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_signal = PTHREAD_COND_INITIALIZER;

static inline uint32_t word_generation(uint64_t w) { return (uint32_t)(w >> 32); }
static inline uint32_t word_chunks(uint64_t w) { return (uint32_t)(w >> 16) & 0xFFFF; }
static inline uint32_t word_next(uint64_t w) { return (uint32_t)w & 0xFFFF; }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_nanoseconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t spin_budget(void) {
  int64_t budget = atomic_load_explicit(&spin_nanoseconds, memory_order_relaxed);
  if (budget >= 0) return budget;
  const char *text = getenv("WINNOW_SPIN_US");
  long long microseconds = text ? atoll(text) : 200;
  budget = microseconds > 0 ? microseconds * 1000 : 0;
  atomic_store_explicit(&spin_nanoseconds, budget, memory_order_relaxed);
  return budget;
}

void winnow_set_spin_microseconds(int64_t microseconds) {
  atomic_store_explicit(&spin_nanoseconds, microseconds > 0 ? microseconds * 1000 : 0, memory_order_relaxed);
}

int64_t winnow_spin_microseconds(void) { return spin_budget() / 1000; }

/// Claims and runs chunks of job `generation` until none is left or a newer job replaced it.
static void run_chunks(uint32_t generation) {
  uint64_t word = atomic_load_explicit(&job_word, memory_order_acquire);
  while (word_generation(word) == generation && word_next(word) < word_chunks(word)) {
    if (!atomic_compare_exchange_weak_explicit(&job_word, &word, word + 1, memory_order_acquire,
                                               memory_order_acquire))
      continue;  // `word` now holds the current value; try again
    job_function(job_context, (int64_t)word_next(word));
    atomic_fetch_add_explicit(&chunks_finished, 1, memory_order_release);
    word = atomic_load_explicit(&job_word, memory_order_acquire);
  }
}

/// Waits until the published generation differs from `seen`: spins for the budget, then parks.
static uint32_t wait_for_new_job(uint32_t seen) {
  int64_t budget = spin_budget();
  int64_t deadline = budget > 0 ? now_nanoseconds() + budget : 0;
  for (int spins = 1;; spins++) {
    uint32_t generation = word_generation(atomic_load_explicit(&job_word, memory_order_acquire));
    if (generation != seen) return generation;
    if (budget == 0) break;
    cpu_relax();
    if ((spins & 63) == 0 && now_nanoseconds() > deadline) break;
  }
  pthread_mutex_lock(&park_lock);
  atomic_fetch_add(&parked_workers, 1);  // sequentially consistent: pairs with the publisher
  uint32_t generation;
  while ((generation = word_generation(atomic_load(&job_word))) == seen)
    pthread_cond_wait(&park_signal, &park_lock);
  atomic_fetch_sub(&parked_workers, 1);
  pthread_mutex_unlock(&park_lock);
  return generation;
}

static void *worker_main(void *unused) {
  (void)unused;
  uint32_t seen = word_generation(atomic_load_explicit(&job_word, memory_order_acquire));
  for (;;) {
    seen = wait_for_new_job(seen);
    run_chunks(seen);
  }
  return NULL;
}

/// Starts workers until there are `wanted` (or as many as the system allows).
static void ensure_workers(int wanted) {
  if (wanted > maximum_workers) wanted = maximum_workers;
  pthread_mutex_lock(&start_lock);
  while (started_workers < wanted) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int failed = pthread_create(&thread, &attributes, worker_main, NULL);
    pthread_attr_destroy(&attributes);
    if (failed) break;  // fewer workers: the caller still runs every unclaimed chunk itself
    started_workers++;
  }
  pthread_mutex_unlock(&start_lock);
}

int winnow_pool_workers(void) {
  pthread_mutex_lock(&start_lock);
  int count = started_workers;
  pthread_mutex_unlock(&start_lock);
  return count;
}

static void run_inline(int64_t chunks, winnow_chunk_function function, void *context) {
  for (int64_t chunk = 0; chunk < chunks; chunk++) function(context, chunk);
}

void winnow_parallel_run(int64_t chunks, int threads, winnow_chunk_function function, void *context) {
  if (chunks <= 0) return;
  if (chunks == 1 || threads <= 1 || chunks > maximum_chunks ||
      atomic_flag_test_and_set_explicit(&pool_busy, memory_order_acquire)) {
    run_inline(chunks, function, context);
    return;
  }
  ensure_workers(threads - 1);
  job_function = function;
  job_context = context;
  atomic_store_explicit(&chunks_finished, 0, memory_order_relaxed);
  uint64_t old = atomic_load_explicit(&job_word, memory_order_relaxed);
  uint64_t generation = (uint64_t)(word_generation(old) + 1);
  atomic_store(&job_word, generation << 32 | (uint64_t)chunks << 16);  // publish (sequentially consistent)
  if (atomic_load(&parked_workers) > 0) {
    pthread_mutex_lock(&park_lock);
    pthread_cond_broadcast(&park_signal);
    pthread_mutex_unlock(&park_lock);
  }
  run_chunks((uint32_t)generation);
  // Wait for chunks other threads claimed; yield after a while in case their core was taken.
  for (int spins = 1; atomic_load_explicit(&chunks_finished, memory_order_acquire) < chunks; spins++) {
    if (spins < 4096) cpu_relax();
    else sched_yield();
  }
  atomic_flag_clear_explicit(&pool_busy, memory_order_release);
}
