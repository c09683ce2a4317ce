/* The benches' server processes and Debian's nginx (bench_nginx.h). */
#include "bench_nginx.h"

#include <dirent.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int stat_ticks(pid_t pid, unsigned long long *ticks)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* proc(5): utime, stime are fields 14, 15 */
    unsigned long long ut, st;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    *ticks = ut + st;
    return 0;
}

int pqify_bench_cpu(pid_t pid, unsigned long long *ticks, unsigned long long *ns)
{
    if (stat_ticks(pid, ticks) != 0)
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    unsigned long long sum = 0;
    int found = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char sp[384];
        unsigned long long run;
        snprintf(sp, sizeof sp, "%s/%s/schedstat", path, e->d_name);
        FILE *f = fopen(sp, "r");
        if (f != NULL && fscanf(f, "%llu", &run) == 1)
            sum += run, found = 1;
        if (f != NULL)
            fclose(f);
    }
    closedir(d);
    *ns = sum;
    return found ? 0 : -1;
}

int pqify_bench_dir_make(char *dir, size_t cap, const char *what)
{
    snprintf(dir, cap, "/tmp/pqify-bench-%s.XXXXXX", what);
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void pqify_bench_dir_remove(const char *dir)
{
    if (dir[0] != '\0' && strstr(dir, "XXXXXX") == NULL)
        nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int pqify_bench_put(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

pid_t pqify_bench_spawn(const char *dir, char *const argv[], int cpu, const char *log, const char *env)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        (void)sched_setaffinity(0, sizeof set, &set);
    }
    if (env != NULL)
        (void)putenv((char *)env);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    if (freopen(path, "a", stdout) == NULL || freopen(path, "a", stderr) == NULL)
        _exit(126);
    execvp(argv[0], argv);
    _exit(127);
}

int pqify_bench_wait_port(struct pqify_bench_proc *p, const char *dir)
{
    for (int i = 0; i < 200 && p->pid > 0; i++) {   /* up to 10 s */
        int st, fd = pqify_bench_tcp_connect(p->port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (waitpid(p->pid, &st, WNOHANG) == p->pid)
            p->pid = -1;
        else
            usleep(50000);
    }
    fprintf(stderr, "pqify bench: %s did not start on 127.0.0.1:%u (logs in %s)\n", p->name, (unsigned)p->port,
            dir);
    return -1;
}

void pqify_bench_stop(struct pqify_bench_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = -1;
    }
}

const char *pqify_bench_nginx_binary(void)
{
    return access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "nginx";
}

int pqify_bench_nginx_conf(const char *dir, const char *name, const char *http_body)
{
    size_t cap = strlen(http_body) + 4096;
    char *text = malloc(cap), file[128];
    if (text == NULL)
        return -1;
    snprintf(text, cap,
             "worker_processes 1; master_process off; daemon off; pid %s/%s.pid;\n"
             "error_log %s/%s.err warn; events { worker_connections 4096; }\n"
             "http { access_log off; client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
             "  fastcgi_temp_path %s/fastcgi; uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
             "%s}\n",
             dir, name, dir, name, dir, dir, dir, dir, dir, http_body);
    snprintf(file, sizeof file, "%s.conf", name);
    int ret = pqify_bench_put(dir, file, text);
    free(text);
    return ret;
}

static void show_err(const char *dir, const char *name)
{
    char path[256], line[512];
    snprintf(path, sizeof path, "%s/%s.err", dir, name);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        fprintf(stderr, "  nginx: %s", line);
    if (f != NULL)
        fclose(f);
}

int pqify_bench_nginx_start(struct pqify_bench_proc *p, const char *nginx, const char *dir, const char *name,
                            int cpu, const char *env)
{
    char conf[256], log[80];
    snprintf(conf, sizeof conf, "%s/%s.conf", dir, name);
    snprintf(log, sizeof log, "%s.log", name);
    char *argv[] = {(char *)nginx, "-p", (char *)dir, "-c", conf, "-e", "stderr", NULL};
    p->pid = pqify_bench_spawn(dir, argv, cpu, log, env);
    if (p->pid < 0 || pqify_bench_wait_port(p, dir) != 0) {
        show_err(dir, name);
        return -1;
    }
    return 0;
}

void pqify_bench_nginx_origin(char *out, size_t cap, const char *dir, uint16_t port, uint16_t tls_port)
{
    int n = snprintf(out, cap, "  keepalive_requests 10000000;\n  server { listen 127.0.0.1:%u; root %s; }\n",
                     (unsigned)port, dir);
    if (tls_port != 0 && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n,
                 "  server { listen 127.0.0.1:%u ssl http2; root %s; ssl_certificate %s/cert.pem;\n"
                 "    ssl_certificate_key %s/key.pem; ssl_protocols TLSv1.3; ssl_ecdh_curve X25519;\n"
                 "    ssl_session_tickets off; ssl_session_cache off; }\n",
                 (unsigned)tls_port, dir, dir, dir);
}

void pqify_bench_nginx_proxy(char *out, size_t cap, const char *dir, uint16_t listen_port, uint16_t upstream_port,
                             unsigned keepalive)
{
    snprintf(out, cap,
             "  keepalive_requests 10000000;\n"
             "  upstream o { server 127.0.0.1:%u; keepalive %u; }\n"
             "  server { listen 127.0.0.1:%u ssl http2; ssl_certificate %s/cert.pem;\n"
             "    ssl_certificate_key %s/key.pem; ssl_protocols TLSv1.3; ssl_ecdh_curve X25519;\n"
             "    ssl_session_tickets off; ssl_session_cache off;\n"
             "    location / { proxy_pass http://o; proxy_http_version 1.1;\n"
             "      proxy_set_header Connection \"\"; proxy_set_header Host $host; } }\n",
             (unsigned)upstream_port, keepalive, (unsigned)listen_port, dir, dir);
}

long pqify_bench_h2load(const char *dir, uint16_t port, int h1, unsigned n, const char *log_file, double *seconds)
{
    char url[64], nbuf[16], out[128], logarg[300];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/small.txt", (unsigned)port);
    snprintf(nbuf, sizeof nbuf, "%u", n);
    snprintf(out, sizeof out, "%s/h2load.out", dir);
    snprintf(logarg, sizeof logarg, "--log-file=%s", log_file != NULL ? log_file : "/dev/null");
    remove(out);
    char *h1argv[] = {"h2load", "--h1", "-n", nbuf, "-c", "8", logarg, url, NULL};
    char *h2argv[] = {"h2load", "-n", nbuf, "-c", "8", "-m", "16", logarg, url, NULL};
    pid_t pid = pqify_bench_spawn(dir, h1 ? h1argv : h2argv, 1, "h2load.out", NULL);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    FILE *f = fopen(out, "r");
    char line[512], unit[3];
    long ok = -1, two = -1;
    double secs = -1, t;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        (void)sscanf(line, "requests: %*u total, %*u started, %*u done, %ld succeeded", &ok);
        (void)sscanf(line, "status codes: %ld 2xx", &two);
        if (sscanf(line, "finished in %lf%2[ms]", &t, unit) == 2)   /* "1.2s," or "523.4ms," */
            secs = unit[0] == 'm' && unit[1] == 's' ? t / 1e3 : t;
    }
    if (f != NULL)
        fclose(f);
    if (seconds != NULL)
        *seconds = secs;
    return ok == (long)n && two == (long)n && secs > 0 ? ok : -1;
}
