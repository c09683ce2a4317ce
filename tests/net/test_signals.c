/*
 * Signals on the loop (net/signals.h): SIGHUP reloads, SIGTERM stops and the grace
 * period ends in the deadline, and a second SIGINT cuts the grace period short.
 * The signals are real (kill(getpid(), ...)), delivered through libuv.
 */
#include <signal.h>
#include <unistd.h>

#include "net/net_test.h"
#include "pqify/net/signals.h"

struct seen {
    int reloads, stops, stop_signal, deadlines, closed;
};

static void on_stop(void *ctx, int signum)
{
    struct seen *s = ctx;
    s->stops++;
    s->stop_signal = signum;
}

static void on_deadline(void *ctx)
{
    ((struct seen *)ctx)->deadlines++;
}

static void on_reload(void *ctx)
{
    ((struct seen *)ctx)->reloads++;
}

static struct seen *closed_into;
static void on_closed(pqify_signals *s)
{
    (void)s;
    closed_into->closed = 1;
}

static void hup_reloads_term_drains(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct seen seen = {0};
    pqify_signals sig;
    pqify_signals_cbs cbs = {on_stop, on_deadline, on_reload, &seen, 100};
    assert_int_equal(pqify_signals_start(&sig, &loop, &cbs), 0);

    kill(getpid(), SIGHUP);
    assert_true(nt_run_until(&loop, &seen.reloads, 5000));
    assert_int_equal(seen.stops, 0);
    kill(getpid(), SIGHUP);
    nt_run_for(&loop, 50);
    assert_int_equal(seen.reloads, 2);

    kill(getpid(), SIGTERM);
    assert_true(nt_run_until(&loop, &seen.stops, 5000));
    assert_int_equal(seen.stop_signal, SIGTERM);
    assert_int_equal(seen.deadlines, 0);          /* the grace period is running */
    assert_true(nt_run_until(&loop, &seen.deadlines, 5000));
    assert_int_equal(seen.stops, 1);

    closed_into = &seen;
    pqify_signals_close(&sig, on_closed);
    assert_true(nt_run_until(&loop, &seen.closed, 5000));
    nt_loop_close(&loop);
}

static void second_int_skips_the_grace(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct seen seen = {0};
    pqify_signals sig;
    pqify_signals_cbs cbs = {on_stop, on_deadline, NULL, &seen, 600000};
    assert_int_equal(pqify_signals_start(&sig, &loop, &cbs), 0);
    kill(getpid(), SIGHUP);   /* no reload callback: ignored, not fatal */
    kill(getpid(), SIGINT);
    assert_true(nt_run_until(&loop, &seen.stops, 5000));
    assert_int_equal(seen.stop_signal, SIGINT);
    nt_run_for(&loop, 50);
    assert_int_equal(seen.deadlines, 0);
    kill(getpid(), SIGINT);
    assert_true(nt_run_until(&loop, &seen.deadlines, 5000));
    assert_int_equal(seen.stops, 1);
    closed_into = &seen;
    pqify_signals_close(&sig, on_closed);
    assert_true(nt_run_until(&loop, &seen.closed, 5000));
    nt_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hup_reloads_term_drains),
        cmocka_unit_test(second_int_skips_the_grace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
