/* enclave ui: prints the Web UI's login URL and opens it in a browser. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "api/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"

static const char ui_help[] =
    "usage: enclave ui [--addr HOST:PORT] [--operator] [--no-open]\n"
    "\n"
    "Prints the Web UI's login URL, http://HOST:PORT/login?code=CODE, and opens it\n"
    "with xdg-open when there is one and a display ($DISPLAY or $WAYLAND_DISPLAY);\n"
    "without a browser it only prints the URL (exit 0). CODE is a one-time login\n"
    "code the daemon makes for the token ('POST /login/code'): it logs in once,\n"
    "within 60 seconds, so the token itself is never on the browser's command\n"
    "line, which other local users can read. The login page sets an HttpOnly,\n"
    "SameSite=Strict cookie and redirects to /; the UI then works with the cookie\n"
    "alone. The daemon must be running ('enclave up').\n"
    "\n"
    "options:\n"
    "  --addr HOST:PORT  the daemon (default $ENCLAVE_ADDR or 127.0.0.1:7339)\n"
    "  --operator        log in with the operator token (principal \"operator\")\n"
    "                    instead of the API token\n"
    "  --no-open         print the URL only\n"
    "  -h, --help        this help\n"
    "\n"
    "environment: ENCLAVE_TOKEN (the token to use, not with --operator), ENCLAVE_ADDR,\n"
    "ENCLAVE_HOME\n";

/* xdg-open somewhere on PATH. */
static bool find_opener(char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n > 0 && n + sizeof("/xdg-open") < size) {
            snprintf(out, size, "%.*s/xdg-open", (int)n, path);
            if (access(out, X_OK) == 0)
                return true;
        }
        path += n + (colon ? 1 : 0);
    }
    return false;
}

/* Starts the browser and does not wait for it: a double fork, so that no
 * zombie stays behind and the browser outlives us. Never fails the verb. */
static void open_browser(const char *opener, const char *url)
{
    pid_t pid = fork();
    if (pid < 0)
        return;
    if (pid == 0) {
        if (fork() != 0)
            _exit(0);
        setsid();
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        execl(opener, "xdg-open", url, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

int cli_ui(int argc, char **argv)
{
    enum { O_ADDR = 256, O_OPERATOR, O_NO_OPEN };
    static const struct option opts[] = {
        {"addr", required_argument, NULL, O_ADDR},
        {"operator", no_argument, NULL, O_OPERATOR},
        {"no-open", no_argument, NULL, O_NO_OPEN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *addr = getenv("ENCLAVE_ADDR");
    bool operator = false, no_open = false;
    int c;
    struct args_getopt g = {.argc = argc, .argv = argv, .opts = opts, .help = ui_help};
    while ((c = args_getopt_next(&g)) != -1) {
        switch (c) {
        case 'h':
            return 0;
        case O_ADDR:
            addr = optarg;
            break;
        case O_OPERATOR:
            operator = true;
            break;
        case O_NO_OPEN:
            no_open = true;
            break;
        default:
            return cli_usage_error("ui", "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("ui", "unexpected argument '%s' (see --help)", argv[optind]);
    if (addr == NULL || *addr == '\0')
        addr = "127.0.0.1:7339";
    if (strspn(addr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-:[]") !=
            strlen(addr) ||
        strchr(addr, ':') == NULL)
        return cli_usage_error("ui", "--addr must be HOST:PORT, not '%s'", addr);

    /* A one-time code, not the token: the URL goes on xdg-open's and the
     * browser's command lines, which every local user can read in /proc. */
    if (operator)
        unsetenv("ENCLAVE_TOKEN");
    struct client_target t;
    client_target_default(&t);
    t.addr = addr;
    t.socket_path = NULL;
    t.operator = operator;
    json_t *req = json_object(), *resp = NULL;
    struct error err;
    if (req == NULL)
        error_set(&err, ERR_INTERNAL, "out of memory");
    int rc = req ? client_call(&t, "login", "code", req, 30, &resp, &err) : -1;
    json_decref(req);
    if (rc < 0) {
        fprintf(stderr, "enclave ui: %s\n", err.message);
        return 1;
    }
    const char *code = json_string_value(json_object_get(resp, "code"));
    if (code == NULL || strlen(code) != API_LOGIN_CODE_HEX || strspn(code, "0123456789abcdef") !=
                                                                   API_LOGIN_CODE_HEX) {
        json_decref(resp);
        fprintf(stderr, "enclave ui: the daemon's answer holds no login code\n");
        return 1;
    }
    char url[1024];
    snprintf(url, sizeof(url), "http://%s/login?code=%s", addr, code);
    json_decref(resp);
    printf("%s\n", url);
    fflush(stdout);
    char opener[4096];
    bool display = (getenv("DISPLAY") && *getenv("DISPLAY")) ||
                   (getenv("WAYLAND_DISPLAY") && *getenv("WAYLAND_DISPLAY"));
    if (!no_open && display && find_opener(opener, sizeof(opener)))
        open_browser(opener, url);
    else if (!no_open)
        fprintf(stderr, "enclave ui: no browser to open here (xdg-open and a display); open the "
                        "URL above\n");
    OPENSSL_cleanse(url, sizeof(url));
    return 0;
}
