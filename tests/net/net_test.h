/* Helpers shared by the tests/net programs: run a loop until a flag or a bound. */
#ifndef PQIFY_NET_TEST_H
#define PQIFY_NET_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <uv.h>

static void nt_on_bound(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until *flag becomes non-zero or ms pass; returns *flag. Every test
 * loop is bounded in time, so a bug fails the test instead of hanging it. */
static inline int nt_run_until(uv_loop_t *loop, const volatile int *flag, uint64_t ms)
{
    uv_timer_t bound;
    int expired = 0;
    uv_timer_init(loop, &bound);
    bound.data = &expired;
    uv_timer_start(&bound, nt_on_bound, ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&bound, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

/* Runs the loop for ms (to let things that must NOT happen have their chance). */
static inline void nt_run_for(uv_loop_t *loop, uint64_t ms)
{
    static const int never = 0;
    (void)nt_run_until(loop, &never, ms);
}

/* Closes every handle still open and runs the loop until they are released. */
static void nt_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static inline void nt_loop_close(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_NOWAIT);
    uv_walk(loop, nt_close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

#endif
