/* enclave audit: tail, export and verify the audit log. */
#include <errno.h>
#include <fcntl.h>
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
#include "common/file.h"

static void audit_help(FILE *out)
{
    fprintf(out,
            "usage: enclave audit SUBCOMMAND [ARGS...]\n"
            "\n"
            "subcommands:\n"
            "  tail         print the newest records; -f keeps following new ones\n"
            "  export       write the whole log as JSON lines (records and signed checkpoints),\n"
            "               or as OCSF events for a SIEM (--format ocsf)\n"
            "  verify       check every hash, link, tree root and checkpoint signature of a\n"
            "               log or export; --witness also checks it against checkpoints kept\n"
            "               elsewhere\n"
            "  proof        print an inclusion proof of one record (JSON)\n"
            "  consistency  print a consistency proof between two tree sizes (JSON)\n"
            "  verify-proof check a proof with the public key alone, no database\n"
            "\n"
            "The log is $ENCLAVE_HOME/audit/audit.db (default ~/.enclave); its checkpoint\n"
            "key is $ENCLAVE_HOME/keys/audit.key, the public half audit.pub.\n"
            "Run 'enclave audit SUBCOMMAND --help' for its options.\n");
}

/* "enclave VERB: message" on stderr, the message escaped: it may quote a
 * log or file the user is checking. */
static void report(const char *verb, const char *message)
{
    fprintf(stderr, "enclave %s: ", verb);
    cli_put_escaped(stderr, message);
    fputc('\n', stderr);
}

static int default_db(const char *given, char *buf, size_t size)
{
    struct error err;
    if (given != NULL) {
        snprintf(buf, size, "%s", given);
        return 0;
    }
    if (audit_default_db_path(buf, size, &err) < 0) {
        report("audit", err.message);
        return -1;
    }
    return 0;
}

/* The log at db_arg (or the default one), read-only; NULL after saying why. */
static struct audit_log *open_read_only(const char *verb, const char *db_arg)
{
    char db_path[4096];
    if (default_db(db_arg, db_path, sizeof(db_path)) < 0)
        return NULL;
    struct audit_options opts = {.read_only = true};
    struct audit_log *log = NULL;
    struct error err;
    if (audit_open(db_path, NULL, &opts, &log, &err) < 0) {
        report(verb, err.message);
        return NULL;
    }
    return log;
}

/* For a verb that takes options only: the log, once no operand is left;
 * NULL after saying why, with the exit code in *code. */
static struct audit_log *open_without_operands(const char *verb, int argc, char **argv,
                                               const char *db_arg, int *code)
{
    if (optind != argc) {
        *code = cli_usage_error(verb, "unexpected argument '%s'", argv[optind]);
        return NULL;
    }
    *code = 1;
    return open_read_only(verb, db_arg);
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

/* A tampered log must not be able to send escape sequences to the
 * terminal: every string from it is escaped (cli_put_escaped). */
static void print_safe(const char *s)
{
    cli_put_escaped(stdout, s);
}

static int print_record(const struct audit_record *rec, void *ctx)
{
    struct tail_state *ts = ctx;
    ts->last_seq = rec->seq;
    if (ts->json) {
        char *line = NULL;
        struct error err;
        if (audit_record_to_json(rec, &line, &err) < 0) {
            report("audit tail", err.message);
            return 0;
        }
        if (cli_put_json(stdout, line) == EOF || putchar('\n') == EOF)
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
    int code;
    struct audit_log *log = open_without_operands("audit tail", argc, argv, db_arg, &code);
    if (log == NULL)
        return code;
    struct error err;
    struct audit_filter filter = {
        .session_id = session, .limit = (uint32_t)lines, .last = lines > 0};
    int rc = 0;
    if (audit_query(log, &filter, print_record, &ts, &err) < 0) {
        report("audit tail", err.message);
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
                report("audit tail", err.message);
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
            "usage: enclave audit export [--format jsonl|ocsf] [--db PATH] [-o FILE]\n"
            "\n"
            "Writes the whole audit log as JSON lines: a header line with the public key,\n"
            "then every record in sequence order, each signed checkpoint right after the\n"
            "record it covers. The file is self-contained: 'enclave audit verify --key\n"
            "audit.pub FILE' (or the Python in docs/audit.md) checks it with nothing else.\n"
            "It is taken from one consistent snapshot while the daemon keeps appending.\n"
            "Checkpoint lines carry the Merkle root and the signed note (C2SP\n"
            "tlog-checkpoint); record lines carry their RFC 6962 leaf hash.\n"
            "\n"
            "  -f, --format F      jsonl (default, verifiable) or ocsf: one OCSF 1.3.0 API\n"
            "                      Activity event (class 6003) per record, for a SIEM; the\n"
            "                      hashes ride along under \"unmapped\" (docs/audit.md)\n"
            "  -o, --output FILE   write here instead of standard output (whole or not at\n"
            "                      all: a temporary beside FILE, renamed over it at the end)\n"
            "      --db PATH       the log (default $ENCLAVE_HOME/audit/audit.db)\n");
}

static int audit_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_arg = NULL, *output = NULL;
    bool ocsf = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "ocsf") == 0)
                ocsf = true;
            else if (strcmp(optarg, "jsonl") != 0)
                return cli_usage_error("audit export", "--format is jsonl or ocsf, not '%s'",
                                       optarg);
            break;
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
    int code;
    struct audit_log *log = open_without_operands("audit export", argc, argv, db_arg, &code);
    if (log == NULL)
        return code;
    struct error err;
    /* Written next to the target, synced and renamed, so a failed export
     * leaves no half file where a complete one is expected. */
    cleanup_file_replacement struct file_replacement target = FILE_REPLACEMENT_INIT;
    FILE *out = stdout;
    if (output != NULL) {
        /* the mode a plain create would give: 0666 less the umask */
        struct file_replace_options opt = {.mode = 0666, .umask = true};
        if (file_replace_begin(&target, output, &opt, &err) < 0) {
            report("audit export", err.message);
            audit_close(log, NULL);
            return 1;
        }
        /* the FILE writes to a copy of the descriptor: fclose leaves the
         * temporary's own open for the commit */
        int fd = fcntl(target.fd, F_DUPFD_CLOEXEC, 0);
        out = fd < 0 ? NULL : fdopen(fd, "w");
        if (out == NULL) {
            fprintf(stderr, "enclave audit export: writing %s: %s\n", output, strerror(errno));
            if (fd >= 0)
                close(fd);
            audit_close(log, NULL);
            return 1;
        }
    }
    int64_t n = ocsf ? audit_export_ocsf(log, out, &err) : audit_export_jsonl(log, out, &err);
    audit_close(log, NULL);
    int rc = 0;
    if (n < 0) {
        if (output != NULL && ferror(out)) /* it failed writing: say where */
            fprintf(stderr, "enclave audit export: %s: %s\n", output, err.message);
        else
            report("audit export", err.message);
        rc = 1;
    }
    if (output != NULL) {
        if (fclose(out) != 0 && rc == 0) {
            fprintf(stderr, "enclave audit export: writing %s: %s\n", output, strerror(errno));
            rc = 1;
        }
        if (rc == 0 && file_replace_commit(&target, &err) < 0) {
            report("audit export", err.message);
            rc = 1;
        }
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
            "usage: enclave audit verify [--key PUB] [--witness FILE] [FILE|DB]\n"
            "\n"
            "Checks an audit log (the SQLite database, default\n"
            "$ENCLAVE_HOME/audit/audit.db) or a JSON-lines export ('-' reads standard\n"
            "input); the kind is detected from the file's first bytes. It checks that\n"
            "sequence numbers run from 1 without a gap, that every record matches its\n"
            "hash and links to the one before, that every checkpoint's Ed25519 signature\n"
            "verifies and names the hash of the record at its seq, and that no record a\n"
            "checkpoint covers is missing. Checkpoints that carry a signed note (C2SP\n"
            "tlog-checkpoint) must also name the RFC 6962 Merkle root of the records\n"
            "they cover.\n"
            "\n"
            "  -k, --key PUB       the PEM public key to check signatures with (audit.pub).\n"
            "                      Without it, the copy stored in the log itself is used,\n"
            "                      which cannot catch someone who rewrote the whole log and\n"
            "                      its key.\n"
            "  -w, --witness FILE  also check the database against the checkpoints in FILE\n"
            "                      (written by 'enclave up --audit-witness'): each must be\n"
            "                      signed by the key, and the log must extend each one (an\n"
            "                      RFC 6962 consistency proof). Catches a log cut or rewritten\n"
            "                      after any witnessed checkpoint. Needs the database.\n"
            "\n"
            "Prints 'OK: N records, M checkpoints, head HASH, root ROOT' (ROOT: the\n"
            "Merkle root of the N records; with --witness a second OK line) and exits 0, or\n"
            "'FAIL at seq N: reason' (N is the first record that does not verify) and\n"
            "exits 1. Records after the last checkpoint are chained but not signed; a\n"
            "note says how many.\n");
}

static int audit_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"witness", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *witness = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key = optarg;
            break;
        case 'w':
            witness = optarg;
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
            ret = witness ? audit_verify_witness(path, key, witness, &res, &err)
                          : audit_verify_db(path, key, &res, &err);
        } else if (witness != NULL) {
            fprintf(stderr, "enclave audit verify: --witness needs the database, not an export\n");
            return 2;
        } else {
            if (regular)
                rewind(f);
            ret = audit_verify_jsonl(f, key, &res, &err);
        }
    }
    if (ret < 0) {
        report("audit verify", err.message);
        return 1;
    }
    if (res.key_from_log)
        fprintf(stderr,
                "note: no --key given; signatures were checked with the public key stored in "
                "the log itself\n");
    if (!res.ok) {
        printf("FAIL at seq %" PRIu64 ": ", res.fail_seq);
        print_safe(res.reason); /* it may quote the file */
        putchar('\n');
        return 1;
    }
    if (res.records > res.last_checkpoint_seq)
        fprintf(stderr,
                "note: records %" PRIu64 "..%" PRIu64
                " come after the last checkpoint: chained, but not signed\n",
                res.last_checkpoint_seq + 1, res.records);
    printf("OK: %" PRIu64 " records, %" PRIu64 " checkpoints, head %s, root %s\n", res.records,
           res.checkpoints, res.head_hash, res.root_hash);
    if (witness != NULL)
        printf("OK: the log extends all %" PRIu64 " witnessed checkpoints (largest tree size %" PRIu64
               ")\n",
               res.witnessed, res.witnessed_size);
    return 0;
}

/* ---------------------------------------------------------------- proofs */

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || s[0] == '-' || s[0] == '\0' || v == 0 || v > INT64_MAX)
        return false;
    *out = v;
    return true;
}

static void proof_help(FILE *out)
{
    fprintf(out,
            "usage: enclave audit proof [--db PATH] [--size N] SEQ\n"
            "\n"
            "Prints an RFC 6962 inclusion proof of record SEQ as JSON: leaf_index (SEQ - 1),\n"
            "tree_size, leaf (base64 of the record's canonical bytes), leaf_hash, hashes\n"
            "(the audit path, bottom up, hex), root_hash, checkpoint (the signed note for\n"
            "tree_size) and record (the record object, for reading). Anyone with audit.pub\n"
            "can check it: 'enclave audit verify-proof FILE --key audit.pub'.\n"
            "\n"
            "  --size N    prove against the checkpoint of tree size N (default: the newest\n"
            "              checkpoint; SEQ must be covered by a signed checkpoint)\n"
            "  --db PATH   the log (default $ENCLAVE_HOME/audit/audit.db)\n");
}

static void consistency_help(FILE *out)
{
    fprintf(out,
            "usage: enclave audit consistency [--db PATH] OLD_SIZE [NEW_SIZE]\n"
            "\n"
            "Prints an RFC 6962 consistency proof that the tree of NEW_SIZE records (default:\n"
            "the newest signed checkpoint) extends the tree of OLD_SIZE records, as JSON:\n"
            "old_size, new_size, old_root_hash, new_root_hash, hashes (hex), new_checkpoint\n"
            "and, when one was signed at exactly OLD_SIZE, old_checkpoint. Check it with\n"
            "'enclave audit verify-proof FILE --key audit.pub'.\n"
            "\n"
            "  --db PATH   the log (default $ENCLAVE_HOME/audit/audit.db)\n");
}

static int audit_proofs(int argc, char **argv, bool inclusion)
{
    const char *name = inclusion ? "audit proof" : "audit consistency";
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_arg = NULL;
    uint64_t size = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_arg = optarg;
            break;
        case 's':
            if (!inclusion || !parse_size(optarg, &size))
                return cli_usage_error(name, "--size wants a tree size, not '%s'", optarg);
            break;
        case 'h':
            if (inclusion)
                proof_help(stdout);
            else
                consistency_help(stdout);
            return 0;
        default:
            return cli_usage_error(name, "bad option");
        }
    }
    int nargs = argc - optind;
    uint64_t a = 0, b = 0;
    if (inclusion ? nargs != 1 : (nargs < 1 || nargs > 2))
        return cli_usage_error(name, inclusion ? "one SEQ" : "OLD_SIZE [NEW_SIZE]");
    if (!parse_size(argv[optind], &a) || (nargs == 2 && !parse_size(argv[optind + 1], &b)))
        return cli_usage_error(name, "sizes and seqs are whole numbers from 1");
    struct audit_log *log = open_read_only(name, db_arg);
    if (log == NULL)
        return 1;
    struct error err;
    char *json = NULL;
    int ret = inclusion ? audit_proof_inclusion(log, a, size, &json, &err)
                        : audit_proof_consistency(log, a, b, &json, &err);
    audit_close(log, NULL);
    if (ret < 0) {
        report(name, err.message);
        return 1;
    }
    int rc = cli_put_json(stdout, json) == EOF || putchar('\n') == EOF || fflush(stdout) != 0 ? 1 : 0;
    free(json);
    return rc;
}

static void verify_proof_help(FILE *out)
{
    fprintf(out,
            "usage: enclave audit verify-proof --key PUB FILE\n"
            "\n"
            "Checks a proof printed by 'enclave audit proof' or 'enclave audit consistency'\n"
            "('-' reads standard input) with the public key alone: no database is needed.\n"
            "An inclusion proof verifies when its checkpoint is signed by the key and the\n"
            "leaf with the hashes leads to the checkpoint's root (and the record shown is\n"
            "the one the leaf encodes). A consistency proof verifies when the new checkpoint\n"
            "(and the old one, when included) is signed by the key and the hashes prove the\n"
            "new tree extends the old one.\n"
            "\n"
            "  -k, --key PUB   the PEM public key (audit.pub); required\n"
            "\n"
            "Prints 'OK: ...' and exits 0, or 'FAIL: reason' and exits 1.\n");
}

static int audit_verify_proof(int argc, char **argv)
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
            verify_proof_help(stdout);
            return 0;
        default:
            return cli_usage_error("audit verify-proof", "bad option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("audit verify-proof", "one FILE");
    if (key == NULL)
        return cli_usage_error("audit verify-proof", "--key PUB is required");
    const char *path = argv[optind];
    struct audit_proof_result res;
    struct error err;
    int ret = strcmp(path, "-") == 0 ? audit_proof_verify_file("/dev/stdin", key, &res, &err)
                                     : audit_proof_verify_file(path, key, &res, &err);
    if (ret < 0) {
        report("audit verify-proof", err.message);
        return 1;
    }
    if (!res.ok) {
        printf("FAIL: ");
        print_safe(res.reason);
        putchar('\n');
        return 1;
    }
    if (res.inclusion)
        printf("OK: record %" PRIu64 " is in the signed tree of %" PRIu64 " records, root %s\n",
               res.leaf_index + 1, res.tree_size, res.root_hash);
    else
        printf("OK: the signed tree of %" PRIu64 " records extends the %s tree of %" PRIu64
               " records (root %s)\n",
               res.tree_size, res.old_signed ? "signed" : "unsigned", res.old_size,
               res.old_root_hash);
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
    if (strcmp(sub, "proof") == 0)
        return audit_proofs(argc - 1, argv + 1, true);
    if (strcmp(sub, "consistency") == 0)
        return audit_proofs(argc - 1, argv + 1, false);
    if (strcmp(sub, "verify-proof") == 0)
        return audit_verify_proof(argc - 1, argv + 1);
    return cli_usage_error("audit", "unknown subcommand '%s'", sub);
}
