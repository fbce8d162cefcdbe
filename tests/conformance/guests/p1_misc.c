/* Arguments, environment, clocks, poll_oneoff, randomness, sched_yield,
 * sockets (never granted) and the exit status. */
#include "p1.h"

static void args_env(void)
{
    __wasi_size_t argc = 0, argv_size = 0;
    check("args_sizes", __wasi_args_sizes_get(&argc, &argv_size));
    say_u("argc", argc);
    say_u("argv_bytes", argv_size);
    static char *argv[32];
    static char abuf[1024];
    if (argc <= 32 && argv_size <= sizeof abuf) {
        check("args_get", __wasi_args_get((uint8_t **)argv, (uint8_t *)abuf));
        for (__wasi_size_t i = 1; i < argc; i++)   /* argv[0] is the runtime's choice */
            printf("arg%u=[%s]\n", (unsigned)i, argv[i]);
    }
    __wasi_size_t envc = 0, env_size = 0;
    check("environ_sizes", __wasi_environ_sizes_get(&envc, &env_size));
    say_u("envc", envc);
    say_u("env_bytes", env_size);
    static char *envp[32];
    static char ebuf[1024];
    if (envc <= 32 && env_size <= sizeof ebuf) {
        check("environ_get", __wasi_environ_get((uint8_t **)envp, (uint8_t *)ebuf));
        for (__wasi_size_t i = 0; i < envc; i++)
            printf("env%u=[%s]\n", (unsigned)i, envp[i]);
    }
}

static void clocks(void)
{
    static const char *const names[] = {"realtime", "monotonic", "process", "thread"};
    for (__wasi_clockid_t id = 0; id < 4; id++) {
        char key[64];
        __wasi_timestamp_t res = 0, t = 0;
        snprintf(key, sizeof key, "clock_res_%s", names[id]);
        __wasi_errno_t e = __wasi_clock_res_get(id, &res);
        check(key, e);
        if (!e) {
            snprintf(key, sizeof key, "clock_res_%s_positive", names[id]);
            say_u(key, res > 0 && res <= 1000000000ull);
        }
        snprintf(key, sizeof key, "clock_time_%s", names[id]);
        e = __wasi_clock_time_get(id, 1, &t);
        check(key, e);
    }
    __wasi_timestamp_t a = 0, b = 0;
    check("mono1", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &a));
    check("mono2", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &b));
    say_u("mono_nondecreasing", b >= a);
    check("real", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &a));
    say_u("real_after_2020", a > 1577836800ull * 1000000000ull);
}

static __wasi_subscription_t sub_clock(uint64_t ud, __wasi_clockid_t id, uint64_t timeout,
                                       __wasi_subclockflags_t flags)
{
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = __WASI_EVENTTYPE_CLOCK;
    s.u.u.clock.id = id;
    s.u.u.clock.timeout = timeout;
    s.u.u.clock.flags = flags;
    return s;
}

static __wasi_subscription_t sub_fd(uint64_t ud, __wasi_eventtype_t type, __wasi_fd_t fd)
{
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = type;
    s.u.u.fd_read.file_descriptor = fd;
    return s;
}

static void show_events(const char *key, const __wasi_event_t *ev, __wasi_size_t n)
{
    printf("%s=", key);
    for (__wasi_size_t i = 0; i < n; i++)
        printf("%s%llu:%s:%u", i ? "," : "", (unsigned long long)ev[i].userdata,
               en(ev[i].error), ev[i].type);
    printf("\n");
}

static void polls(void)
{
    __wasi_subscription_t s[4];
    __wasi_event_t ev[4];
    __wasi_size_t n = 0;
    __wasi_timestamp_t t0, t1;
    check("poll_none", __wasi_poll_oneoff(s, ev, 0, &n));
    s[0] = sub_clock(7, __WASI_CLOCKID_MONOTONIC, 2000000, 0);
    (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t0);
    check("poll_sleep", __wasi_poll_oneoff(s, ev, 1, &n));
    (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t1);
    say_u("poll_sleep_n", n);
    show_events("poll_sleep_events", ev, n);
    say_u("poll_sleep_waited", t1 - t0 >= 2000000);
    (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t0);
    s[0] = sub_clock(8, __WASI_CLOCKID_MONOTONIC, t0 + 1000000, __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME);
    s[1] = sub_clock(9, __WASI_CLOCKID_MONOTONIC, t0 + 60000000000ull, __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME);
    check("poll_abs", __wasi_poll_oneoff(s, ev, 2, &n));
    show_events("poll_abs_events", ev, n);
    (void)__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &t0);
    s[0] = sub_clock(10, __WASI_CLOCKID_REALTIME, t0 + 1000000, __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME);
    check("poll_abs_realtime", __wasi_poll_oneoff(s, ev, 1, &n));
    show_events("poll_abs_realtime_events", ev, n);
    s[0] = sub_clock(11, __WASI_CLOCKID_MONOTONIC, 0, 0);
    check("poll_zero", __wasi_poll_oneoff(s, ev, 1, &n));
    show_events("poll_zero_events", ev, n);
    /* stdout is always writable; a 60 s clock beside it does not wait. */
    s[0] = sub_clock(12, __WASI_CLOCKID_MONOTONIC, 60000000000ull, 0);
    s[1] = sub_fd(13, __WASI_EVENTTYPE_FD_WRITE, 1);
    s[2] = sub_fd(14, __WASI_EVENTTYPE_FD_WRITE, 2);
    check("poll_stdout", __wasi_poll_oneoff(s, ev, 3, &n));
    show_events("poll_stdout_events", ev, n);
    /* A regular file is always ready. */
    __wasi_fd_t scratch = preopen("/scratch"), f;
    check("poll_put", put_file(scratch, "pf", "0123456789"));
    check("poll_open", p_open(scratch, 0, "pf", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_POLL_FD_READWRITE, 0, 0, &f));
    s[0] = sub_fd(15, __WASI_EVENTTYPE_FD_READ, f);
    check("poll_file_read", __wasi_poll_oneoff(s, ev, 1, &n));
    show_events("poll_file_read_events", ev, n);
    s[0] = sub_fd(16, __WASI_EVENTTYPE_FD_WRITE, f);
    check("poll_file_write", __wasi_poll_oneoff(s, ev, 1, &n));
    show_events("poll_file_write_events", ev, n);
    check("poll_close", __wasi_fd_close(f));
    check("poll_unlink", __wasi_path_unlink_file(scratch, "pf"));
}

static void misc(void)
{
    static uint8_t buf[4096];
    check("random_zero", __wasi_random_get(buf, 0));
    memset(buf, 0, sizeof buf);
    check("random_4096", __wasi_random_get(buf, sizeof buf));
    size_t nz = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        nz += buf[i] != 0;
    say_u("random_mostly_nonzero", nz > 3000);
    check("sched_yield", __wasi_sched_yield());

    __wasi_fd_t nfd;
    __wasi_size_t n;
    __wasi_roflags_t ro;
    __wasi_iovec_t iov = {buf, 8};
    __wasi_ciovec_t ciov = {buf, 8};
    check("sock_shutdown_stdout", __wasi_sock_shutdown(1, __WASI_SDFLAGS_RD));
    check("sock_shutdown_closed", __wasi_sock_shutdown(55, __WASI_SDFLAGS_RD));
    check("sock_accept_stdin", __wasi_sock_accept(0, 0, &nfd));
    check("sock_accept_closed", __wasi_sock_accept(55, 0, &nfd));
    check("sock_recv_stdin", __wasi_sock_recv(0, &iov, 1, 0, &n, &ro));
    check("sock_recv_closed", __wasi_sock_recv(55, &iov, 1, 0, &n, &ro));
    check("sock_send_stdout", __wasi_sock_send(1, &ciov, 1, 0, &n));
    check("sock_send_closed", __wasi_sock_send(55, &ciov, 1, 0, &n));
    __wasi_fd_t data = preopen("/data");
    check("sock_shutdown_dir", __wasi_sock_shutdown(data, __WASI_SDFLAGS_WR));
}

static void stdin_read(void)
{
    static char buf[256];
    __wasi_iovec_t iov = {(uint8_t *)buf, 5};
    __wasi_size_t n = 0;
    check("stdin_read1", __wasi_fd_read(0, &iov, 1, &n));
    buf[n] = '\0';
    printf("stdin_read1_data=[%s]\n", buf);
    iov.buf_len = sizeof buf - 1;
    check("stdin_read2", __wasi_fd_read(0, &iov, 1, &n));
    buf[n] = '\0';
    printf("stdin_read2_data=[%s]\n", buf);
    check("stdin_read_eof", __wasi_fd_read(0, &iov, 1, &n));
    say_u("stdin_read_eof_n", n);
}

int main(void)
{
    args_env();
    clocks();
    polls();
    misc();
    stdin_read();
    fflush(stdout);
    __wasi_proc_exit(3);
}
