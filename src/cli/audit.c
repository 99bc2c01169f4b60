/* enclave audit: tail, export and verify the audit log. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "common/cleanup.h"

static void audit_help(FILE *out)
{
    fprintf(out,
            "usage: enclave audit SUBCOMMAND [ARGS...]\n"
            "\n"
            "subcommands:\n"
            "  tail     print the newest records; -f keeps following new ones\n"
            "  export   write the whole log as JSON lines (records and signed checkpoints)\n"
            "  verify   check every hash link and checkpoint signature of a log or export\n"
            "\n"
            "The log is $ENCLAVE_HOME/audit/audit.db (default ~/.enclave); its checkpoint\n"
            "key is $ENCLAVE_HOME/keys/audit.key, the public half audit.pub.\n"
            "Run 'enclave audit SUBCOMMAND --help' for its options.\n");
}

static int default_db(const char *given, char *buf, size_t size)
{
    struct error err;
    if (given != NULL) {
        snprintf(buf, size, "%s", given);
        return 0;
    }
    if (audit_default_db_path(buf, size, &err) < 0) {
        fprintf(stderr, "enclave audit: %s\n", err.message);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- tail */

struct tail_state {
    bool json;
    uint64_t last_seq;
    bool write_failed;
};

static void format_time(int64_t ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    if (ns < 0 || gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, size, "%" PRId64 "ns", ns);
        return;
    }
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)((ns / 1000000) % 1000));
}

/* Writes s with anything but printable ASCII as \xNN: a tampered log must
 * not be able to send escape sequences to the terminal. */
static void print_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f)
            putchar(*p);
        else
            printf("\\x%02x", *p);
    }
}

static int print_record(const struct audit_record *rec, void *ctx)
{
    struct tail_state *ts = ctx;
    ts->last_seq = rec->seq;
    if (ts->json) {
        char *line = NULL;
        struct error err;
        if (audit_record_to_json(rec, &line, &err) < 0) {
            fprintf(stderr, "enclave audit tail: %s\n", err.message);
            return 0;
        }
        if (printf("%s\n", line) < 0)
            ts->write_failed = true;
        free(line);
    } else {
        char when[64];
        format_time(rec->time_ns, when, sizeof(when));
        printf("%-6" PRIu64 " %s ", rec->seq, when);
        print_safe(rec->kind_name);
        printf("%*s session=", strlen(rec->kind_name) < 24 ? (int)(24 - strlen(rec->kind_name)) : 0,
               "");
        print_safe(rec->session_id[0] ? rec->session_id : "-");
        if (rec->decision[0]) {
            printf(" decision=");
            print_safe(rec->decision);
        }
        printf(" reasons=");
        print_safe(rec->reasons_json);
        printf(" details=");
        print_safe(rec->details_json);
        if (putchar('\n') == EOF || ferror(stdout))
            ts->write_failed = true;
    }
    return ts->write_failed;
}

static volatile sig_atomic_t tail_stop;
static void on_stop_signal(int sig)
{
    (void)sig;
    tail_stop = 1;
}

static void tail_help(FILE *out)
{
    fprintf(out,
            "usage: enclave audit tail [-n N] [-f] [--session ID] [--json] [--db PATH]\n"
            "\n"
            "Prints the newest N records of the audit log, oldest first.\n"
            "\n"
            "  -n, --lines N       how many records (default 20; 0 = all)\n"
            "  -f, --follow        keep running and print new records as they are appended\n"
            "                      (the log is polled every --interval milliseconds)\n"
            "      --interval MS   polling period for -f (default 500)\n"
            "  -s, --session ID    only records of this session\n"
            "      --json          one JSON object per record (the export's record lines)\n"
            "      --db PATH       the log (default $ENCLAVE_HOME/audit/audit.db)\n"
            "\n"
            "The log is opened read-only; tail does not verify it (see 'enclave audit verify').\n");
}

static int audit_tail(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"lines", required_argument, NULL, 'n'}, {"follow", no_argument, NULL, 'f'},
        {"session", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
        {"db", required_argument, NULL, 'd'},    {"interval", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    unsigned long lines = 20, interval_ms = 500;
    bool follow = false;
    const char *session = NULL, *db_arg = NULL;
    struct tail_state ts = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:fs:h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'n':
            errno = 0;
            lines = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || optarg[0] == '-' || lines > UINT32_MAX)
                return cli_usage_error("audit tail", "-n wants a count, not '%s'", optarg);
            break;
        case 'f':
            follow = true;
            break;
        case 's':
            session = optarg;
            break;
        case 'j':
            ts.json = true;
            break;
        case 'd':
            db_arg = optarg;
            break;
        case 'i':
            errno = 0;
            interval_ms = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || interval_ms == 0 || interval_ms > 3600000)
                return cli_usage_error("audit tail", "--interval wants milliseconds, not '%s'",
                                       optarg);
            break;
        case 'h':
            tail_help(stdout);
            return 0;
        default:
            return cli_usage_error("audit tail", "bad option");
        }
    }
    if (optind != argc)
        return cli_usage_error("audit tail", "unexpected argument '%s'", argv[optind]);
    char db_path[4096];
    if (default_db(db_arg, db_path, sizeof(db_path)) < 0)
        return 1;

    struct audit_options opts = {.read_only = true};
    struct audit_log *log = NULL;
    struct error err;
    if (audit_open(db_path, NULL, &opts, &log, &err) < 0) {
        fprintf(stderr, "enclave audit tail: %s\n", err.message);
        return 1;
    }
    struct audit_filter filter = {
        .session_id = session, .limit = (uint32_t)lines, .last = lines > 0};
    int rc = 0;
    if (audit_query(log, &filter, print_record, &ts, &err) < 0) {
        fprintf(stderr, "enclave audit tail: %s\n", err.message);
        rc = 1;
    }
    fflush(stdout);
    if (follow && rc == 0) {
        struct sigaction sa = {.sa_handler = on_stop_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (ts.last_seq == 0) {
            /* Nothing printed: start after the current head, not at the start. */
            char hash[AUDIT_HASH_HEX_SIZE];
            if (audit_head(log, &ts.last_seq, hash, &err) < 0)
                ts.last_seq = 0;
        }
        while (!tail_stop && !ts.write_failed) {
            struct timespec pause = {(time_t)(interval_ms / 1000),
                                     (long)(interval_ms % 1000) * 1000000};
            nanosleep(&pause, NULL);
            struct audit_filter next = {.session_id = session, .after_seq = ts.last_seq};
            if (audit_query(log, &next, print_record, &ts, &err) < 0) {
                fprintf(stderr, "enclave audit tail: %s\n", err.message);
                rc = 1;
                break;
            }
            fflush(stdout);
        }
    }
    audit_close(log, NULL);
    if (ts.write_failed)
        rc = 1;
    return rc;
}

/* ---------------------------------------------------------------- export */

static void export_help(FILE *out)
{
    fprintf(out,
            "usage: enclave audit export [--db PATH] [-o FILE]\n"
            "\n"
            "Writes the whole audit log as JSON lines: a header line with the public key,\n"
            "then every record in sequence order, each signed checkpoint right after the\n"
            "record it covers. The file is self-contained: 'enclave audit verify --key\n"
            "audit.pub FILE' (or the Python in docs/audit.md) checks it with nothing else.\n"
            "It is taken from one consistent snapshot while the daemon keeps appending.\n"
            "\n"
            "  -o, --output FILE   write here instead of standard output\n"
            "      --db PATH       the log (default $ENCLAVE_HOME/audit/audit.db)\n");
}

static int audit_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_arg = NULL, *output = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_arg = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            export_help(stdout);
            return 0;
        default:
            return cli_usage_error("audit export", "bad option");
        }
    }
    if (optind != argc)
        return cli_usage_error("audit export", "unexpected argument '%s'", argv[optind]);
    char db_path[4096];
    if (default_db(db_arg, db_path, sizeof(db_path)) < 0)
        return 1;
    struct audit_options opts = {.read_only = true};
    struct audit_log *log = NULL;
    struct error err;
    if (audit_open(db_path, NULL, &opts, &log, &err) < 0) {
        fprintf(stderr, "enclave audit export: %s\n", err.message);
        return 1;
    }
    /* Written next to the target and renamed, so a failed export leaves no
     * half file where a complete one is expected. */
    char tmp[4200];
    FILE *out = stdout;
    if (output != NULL) {
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", output, (int)getpid());
        out = fopen(tmp, "we");
        if (out == NULL) {
            fprintf(stderr, "enclave audit export: creating %s: %s\n", tmp, strerror(errno));
            audit_close(log, NULL);
            return 1;
        }
    }
    int64_t n = audit_export_jsonl(log, out, &err);
    audit_close(log, NULL);
    int rc = 0;
    if (n < 0) {
        fprintf(stderr, "enclave audit export: %s\n", err.message);
        rc = 1;
    }
    if (output != NULL) {
        if (fsync(fileno(out)) < 0 || fclose(out) != 0) {
            if (rc == 0)
                fprintf(stderr, "enclave audit export: writing %s: %s\n", tmp, strerror(errno));
            rc = 1;
        }
        if (rc == 0 && rename(tmp, output) < 0) {
            fprintf(stderr, "enclave audit export: %s: %s\n", output, strerror(errno));
            rc = 1;
        }
        if (rc != 0)
            unlink(tmp);
    } else if (fflush(stdout) != 0) {
        rc = 1;
    }
    if (rc == 0 && output != NULL)
        fprintf(stderr, "exported %" PRId64 " records to %s\n", n, output);
    return rc;
}

/* ---------------------------------------------------------------- verify */

static void verify_help(FILE *out)
{
    fprintf(out,
            "usage: enclave audit verify [--key PUB] [FILE|DB]\n"
            "\n"
            "Checks an audit log (the SQLite database, default\n"
            "$ENCLAVE_HOME/audit/audit.db) or a JSON-lines export ('-' reads standard\n"
            "input); the kind is detected from the file's first bytes. It checks that\n"
            "sequence numbers run from 1 without a gap, that every record matches its\n"
            "hash and links to the one before, that every checkpoint's Ed25519 signature\n"
            "verifies and names the hash of the record at its seq, and that no record a\n"
            "checkpoint covers is missing.\n"
            "\n"
            "  -k, --key PUB   the PEM public key to check signatures with (audit.pub).\n"
            "                  Without it, the copy stored in the log itself is used, which\n"
            "                  cannot catch someone who rewrote the whole log and its key.\n"
            "\n"
            "Prints 'OK: N records, M checkpoints, head HASH' and exits 0, or\n"
            "'FAIL at seq N: reason' (N is the first record that does not verify) and\n"
            "exits 1. Records after the last checkpoint are chained but not signed; a\n"
            "note says how many.\n");
}

static int audit_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key = optarg;
            break;
        case 'h':
            verify_help(stdout);
            return 0;
        default:
            return cli_usage_error("audit verify", "bad option");
        }
    }
    if (argc - optind > 1)
        return cli_usage_error("audit verify", "one FILE or DB at most");
    char path[4096];
    if (default_db(optind < argc ? argv[optind] : NULL, path, sizeof(path)) < 0)
        return 1;

    struct audit_verify_result res;
    struct error err;
    int ret;
    if (strcmp(path, "-") == 0) {
        ret = audit_verify_jsonl(stdin, key, &res, &err);
    } else {
        cleanup_fclose FILE *f = fopen(path, "rbe");
        if (f == NULL) {
            fprintf(stderr, "enclave audit verify: %s: %s\n", path, strerror(errno));
            return 1;
        }
        /* A SQLite database is a regular file starting with its magic; a
         * pipe (verify <(...)) can only be JSON lines, and cannot be rewound. */
        struct stat st;
        char magic[16] = {0};
        bool regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
        if (regular && fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
            memcmp(magic, "SQLite format 3", 16) == 0) {
            ret = audit_verify_db(path, key, &res, &err);
        } else {
            if (regular)
                rewind(f);
            ret = audit_verify_jsonl(f, key, &res, &err);
        }
    }
    if (ret < 0) {
        fprintf(stderr, "enclave audit verify: %s\n", err.message);
        return 1;
    }
    if (res.key_from_log)
        fprintf(stderr,
                "note: no --key given; signatures were checked with the public key stored in "
                "the log itself\n");
    if (!res.ok) {
        printf("FAIL at seq %" PRIu64 ": %s\n", res.fail_seq, res.reason);
        return 1;
    }
    if (res.records > res.last_checkpoint_seq)
        fprintf(stderr,
                "note: records %" PRIu64 "..%" PRIu64
                " come after the last checkpoint: chained, but not signed\n",
                res.last_checkpoint_seq + 1, res.records);
    printf("OK: %" PRIu64 " records, %" PRIu64 " checkpoints, head %s\n", res.records,
           res.checkpoints, res.head_hash);
    return 0;
}

int cli_audit(int argc, char **argv)
{
    if (argc < 2) {
        audit_help(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        audit_help(stdout);
        return 0;
    }
    if (strcmp(sub, "tail") == 0)
        return audit_tail(argc - 1, argv + 1);
    if (strcmp(sub, "export") == 0)
        return audit_export(argc - 1, argv + 1);
    if (strcmp(sub, "verify") == 0)
        return audit_verify(argc - 1, argv + 1);
    return cli_usage_error("audit", "unknown subcommand '%s'", sub);
}
