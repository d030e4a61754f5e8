/* The HTTP client against a real nginx (Debian's package, installed by
 * scripts/deps.sh) started by the test on a loopback port with a temporary
 * configuration: gzip (which nginx sends chunked), keep-alive reuse,
 * redirects, HEAD, 404. Skipped, saying so, when nginx is not installed. */
#include <criterion/criterion.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hc_env.h"
#include "loop_util.h"
#include "net_peer.h"

extern char **environ;

static const char *find_nginx(void)
{
    static const char *const paths[] = {"/usr/sbin/nginx", "/usr/bin/nginx",
                                        "/usr/local/sbin/nginx"};
    for (size_t i = 0; i < 3; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

typedef struct {
    char dir[64];
    int port;
    pid_t pid;
    char *big;
    size_t big_len;
} nginx_t;

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void nginx_start(nginx_t *n, const char *bin)
{
    char path[256], conf[2048];
    snprintf(n->dir, sizeof n->dir, "/tmp/tn_nginx_XXXXXX");
    cr_assert_not_null(mkdtemp(n->dir));
    snprintf(path, sizeof path, "%s/www", n->dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    n->big_len = 300000;
    n->big = malloc(n->big_len);
    for (size_t i = 0; i < n->big_len; i++)
        n->big[i] = (char)('a' + (i * 7 + i / 13) % 26);
    snprintf(path, sizeof path, "%s/www/big.txt", n->dir);
    write_file(path, n->big, n->big_len);
    snprintf(path, sizeof path, "%s/www/small.txt", n->dir);
    write_file(path, "small\n", 6);
    n->port = tn_test_closed_port(AF_INET);
    int k =
        snprintf(conf, sizeof conf,
                 "daemon off; master_process off; worker_processes 1;\n"
                 "pid %s/nginx.pid; error_log %s/error.log warn;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n access_log off;\n"
                 " client_body_temp_path %s/b; proxy_temp_path %s/p;\n"
                 " fastcgi_temp_path %s/f; uwsgi_temp_path %s/u; scgi_temp_path %s/s;\n"
                 " types { text/plain txt; }\n"
                 " gzip on; gzip_types text/plain; gzip_min_length 10;\n"
                 " keepalive_timeout 30s;\n"
                 " server {\n  listen 127.0.0.1:%d;\n  root %s/www;\n"
                 "  location = /redir { return 302 /big.txt; }\n"
                 "  location = /redir2 { return 301 http://127.0.0.1:%d/redir; }\n"
                 " }\n}\n",
                 n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->port, n->dir, n->port);
    snprintf(path, sizeof path, "%s/nginx.conf", n->dir);
    write_file(path, conf, (size_t)k);
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s/", n->dir);
    char *argv[] = {(char *)bin, "-c", path, "-p", prefix, NULL};
    cr_assert_eq(posix_spawn(&n->pid, bin, NULL, NULL, argv, environ), 0);
    for (int i = 0; i < 100; i++) {
        int fd = tn_peer_connect(AF_INET, n->port, NULL);
        if (fd >= 0) {
            close(fd);
            return;
        }
        tn_test_sleep_ms(50);
    }
    cr_assert_fail("nginx did not start on port %d", n->port);
}

static void nginx_stop(nginx_t *n)
{
    char cmd[128];
    kill(n->pid, SIGTERM);
    waitpid(n->pid, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", n->dir);
    cr_assert_eq(system(cmd), 0);
    free(n->big);
}

Test(httpclient_nginx, gzip_chunked_keepalive_redirects_head)
{
    const char *bin = find_nginx();
    if (!bin)
        cr_skip_test("nginx is not installed (scripts/deps.sh installs it)");
    nginx_t n;
    hc_env_t e;
    char url[128];
    nginx_start(&n, bin);
    hc_env_open(&e, NULL, NULL);

    /* gzip: nginx compresses on the fly and sends it chunked. */
    hc_res_t r = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big.txt", n.port);
    hc_fetch(&e, url, NULL, &r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.xcce, "gzip");
    cr_assert_eq(r.len, n.big_len);
    cr_assert(memcmp(r.body, n.big, n.big_len) == 0);
    hc_res_free(&r);

    /* Raw: no Accept-Encoding, so a plain Content-Length body. */
    tn_fetch_options_t nd = {.no_decompress = 1};
    hc_res_t raw = {0};
    hc_fetch(&e, url, &nd, &raw);
    cr_assert_eq(raw.status, 0);
    cr_assert_str_eq(raw.ce, "");
    cr_assert_eq(raw.len, n.big_len);
    cr_assert_eq(raw.t.reused, 1);
    hc_res_free(&raw);

    /* Keep-alive: twenty more on the same connection. */
    for (int i = 0; i < 20; i++) {
        hc_res_t s = {0};
        snprintf(url, sizeof url, "http://127.0.0.1:%d/small.txt", n.port);
        hc_fetch(&e, url, NULL, &s);
        cr_assert_eq(s.status, 0);
        cr_assert_str_eq(s.body, "small\n");
        cr_assert_eq(s.t.reused, 1, "fetch %d", i);
        hc_res_free(&s);
    }

    /* Redirects: absolute and relative Location. */
    hc_res_t rd = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redir2", n.port);
    hc_fetch(&e, url, NULL, &rd);
    cr_assert_eq(rd.status, 0, "%s", rd.err);
    cr_assert_eq(rd.t.redirects, 2);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big.txt", n.port);
    cr_assert_str_eq(rd.url, url);
    cr_assert_eq(rd.len, n.big_len);
    hc_res_free(&rd);

    /* HEAD: a length, no body, and the connection goes on. */
    tn_fetch_options_t head = {.method = "HEAD", .no_decompress = 1};
    hc_res_t h = {0}, after = {0};
    hc_fetch(&e, url, &head, &h);
    cr_assert_eq(h.status, 0);
    cr_assert_eq(h.len, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing", n.port);
    hc_fetch(&e, url, NULL, &after);
    cr_assert_eq(after.status, TN_EHTTP);
    cr_assert_eq(after.code, 404);
    cr_assert_eq(after.t.reused, 1);
    hc_res_free(&h);
    hc_res_free(&after);

    hc_env_close(&e);
    nginx_stop(&n);
}
