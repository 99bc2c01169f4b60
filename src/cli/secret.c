/* enclave secret: the operator's credentials for egress, kept on the host
 * ($ENCLAVE_HOME/secrets) and never sent to a guest (secret/secret.h). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "common/file.h"
#include "secret/secret.h"

static const char secret_help[] =
    "usage: enclave secret set NAME [--file PATH]\n"
    "       enclave secret ls\n"
    "       enclave secret rm NAME\n"
    "\n"
    "Credentials that the host's egress proxy adds to a workload's requests and\n"
    "that never enter a VM. A policy names one in the net.connect decision for a\n"
    "host (the obligation inject_secret; see docs/egress.md), and the host puts it\n"
    "into the request's header on its way out. The guest, the audit log and the\n"
    "daemon's log never see the value; the audit record says that it was injected.\n"
    "\n"
    "Each secret is a file of mode 0600 in $ENCLAVE_HOME/secrets (mode 0700), written\n"
    "atomically; run this as the user the daemon runs as. A running daemon reads the\n"
    "secret again for every connection, so set and rm take effect at once.\n"
    "\n"
    "  set NAME      store NAME, replacing it; the value is read from standard input\n"
    "                (without echo on a terminal; one trailing newline is dropped),\n"
    "                never from the command line\n"
    "    --file PATH read the value from PATH instead\n"
    "  ls            list the names stored (never the values)\n"
    "  rm NAME       remove NAME\n"
    "\n"
    "NAME: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.\n"
    "The value: 1-8192 bytes of visible ASCII (spaces and tabs inside), as an HTTP\n"
    "header value can carry it.\n"
    "\n"
    "environment: ENCLAVE_HOME (default ~/.enclave)\n";

/* Reads the value: a terminal line without echo, or everything until EOF.
 * *size is how many bytes of *out to wipe before freeing it (the value and
 * the line end that was cut). */
static int read_value(const char *file, char **out, size_t *len, size_t *size)
{
    struct error err;
    char *buf = NULL;
    size_t n = 0;
    if (file != NULL) {
        if (file_read_all(file, SECRET_VALUE_MAX + 2, &buf, &n, &err) < 0) {
            fprintf(stderr, "enclave secret: %s\n", err.message);
            return -1;
        }
    } else {
        buf = malloc(SECRET_VALUE_MAX + 3);
        if (buf == NULL) {
            fprintf(stderr, "enclave secret: out of memory\n");
            return -1;
        }
        bool tty = isatty(STDIN_FILENO);
        struct termios saved, quiet;
        bool echo_off = false;
        if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
            quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
            fprintf(stderr, "value: ");
        }
        while (n < SECRET_VALUE_MAX + 2) {
            ssize_t r = read(STDIN_FILENO, buf + n, SECRET_VALUE_MAX + 2 - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            n += (size_t)r;
            if (tty && buf[n - 1] == '\n')
                break;
        }
        if (echo_off) {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
            fputc('\n', stderr);
        }
        buf[n] = '\0';
    }
    *size = n + 1;
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    *out = buf;
    *len = n;
    return 0;
}

static int secret_set_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hf:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(secret_help, stdout);
            return 0;
        case 'f':
            file = optarg;
            break;
        default:
            return cli_usage_error("secret set", "unknown option or missing value '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("secret set", "give one NAME; the value comes from standard input or --file");
    const char *name = argv[optind];
    if (!secret_name_valid(name))
        return cli_usage_error("secret set",
                               "bad name '%.80s': 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                               name);
    char dir[4096];
    struct error err;
    if (secret_default_dir(dir, sizeof(dir), &err) < 0) {
        fprintf(stderr, "enclave secret: %s\n", err.message);
        return 1;
    }
    char *value = NULL;
    size_t len = 0, size = 0;
    if (read_value(file, &value, &len, &size) < 0)
        return 1;
    int rc = secret_set(dir, name, value, len, &err);
    OPENSSL_cleanse(value, size);
    free(value);
    if (rc < 0) {
        fprintf(stderr, "enclave secret: %s\n", err.message);
        return err.kind == ERR_INVALID_ARGUMENT ? 2 : 1;
    }
    fprintf(stderr, "enclave secret: %s stored (%zu bytes)\n", name, len);
    return 0;
}

int cli_secret(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(secret_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "set") == 0)
        return secret_set_cmd(argc - 1, argv + 1);
    bool is_ls = strcmp(sub, "ls") == 0, is_rm = strcmp(sub, "rm") == 0;
    if (!is_ls && !is_rm)
        return cli_usage_error("secret", "unknown sub-verb '%s' (set, ls, rm)", sub);
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(secret_help, stdout);
            return 0;
        }
    if (is_ls && argc != 2)
        return cli_usage_error("secret ls", "unexpected argument '%s'", argv[2]);
    if (is_rm && argc != 3)
        return cli_usage_error("secret rm", "give one NAME");
    char dir[4096];
    struct error err;
    if (secret_default_dir(dir, sizeof(dir), &err) < 0) {
        fprintf(stderr, "enclave secret: %s\n", err.message);
        return 1;
    }
    if (is_rm) {
        if (secret_remove(dir, argv[2], &err) < 0) {
            fprintf(stderr, "enclave secret: %s\n", err.message);
            return err.kind == ERR_INVALID_ARGUMENT ? 2 : 1;
        }
        return 0;
    }
    char **names = NULL;
    size_t n = 0;
    if (secret_list(dir, &names, &n, &err) < 0) {
        fprintf(stderr, "enclave secret: %s\n", err.message);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s\n", names[i]);
    secret_names_free(names, n);
    return 0;
}
