/* Audit log benchmark: appends per second with durability on (WAL,
 * synchronous=FULL), one writer at a time and from many concurrent writers
 * (group commit: each audit_append returns once its group is fsynced), with
 * the p50/p99 latency of one append; batched appends; proof making; and
 * verification speed of the SQLite log and of its JSON-lines export.
 * Prints numbers; asserts nothing about them.
 *
 *   audit-bench [--dir DIR] [--appends N] [--verify-records N]
 *               [--writers T --concurrent N] [--witness FILE]
 *
 * DIR must be on the disk the daemon would use (not tmpfs) for the durable
 * numbers to mean anything. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/digest.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(struct audit_record_in *in, char details[128], uint64_t i, const char *digest)
{
    snprintf(details, 128,
             "{\"exit_code\":0,\"duration_ms\":%" PRIu64 ",\"stdout_bytes\":%" PRIu64 "}", i % 997,
             i * 7 % 4096);
    *in = (struct audit_record_in){
        .kind = i % 2 ? AUDIT_TOOL_EXEC : AUDIT_POLICY_DECISION,
        .session_id = "s-bench",
        .bundle_digest = digest,
        .input_digest = digest,
        .decision = "allow",
        .reasons_json = "[\"exec allowed: python3\"]",
        .details_json = details,
    };
}

static int die(const char *what, const struct error *err);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

struct writer {
    pthread_t thread;
    struct audit_log *log;
    uint64_t first, n;
    const char *digest;
    double *lat_us; /* n entries */
    pthread_barrier_t *start;
    int failed;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_barrier_wait(w->start);
    for (uint64_t i = 0; i < w->n; i++) {
        struct audit_record_in in;
        char details[128];
        fill(&in, details, w->first + i, w->digest);
        struct error err;
        double t0 = now_s();
        if (audit_append(w->log, &in, NULL, &err) < 0) {
            fprintf(stderr, "audit-bench: concurrent append: %s\n", err.message);
            w->failed = 1;
            return NULL;
        }
        w->lat_us[i] = (now_s() - t0) * 1e6;
    }
    return NULL;
}

/* T threads, each appending n/T records one audit_append at a time into a
 * fresh log; prints records/s and append latency percentiles. */
static int bench_concurrent(const char *dir, const char *keys, unsigned long writers,
                            unsigned long total, const char *digest)
{
    char db[4096];
    snprintf(db, sizeof(db), "%s/concurrent.db", dir);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof(p), "%s%s", db, suffixes[i]);
        unlink(p);
    }
    struct error err;
    struct audit_log *log = NULL;
    if (audit_open(db, keys, NULL, &log, &err) < 0)
        return die("open", &err);
    uint64_t per = total / writers;
    struct writer *ws = calloc(writers, sizeof(*ws));
    double *lat = calloc(per * writers, sizeof(double));
    if (ws == NULL || lat == NULL)
        return 1;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)writers + 1);
    for (unsigned long t = 0; t < writers; t++) {
        ws[t] = (struct writer){.log = log, .first = t * per, .n = per, .digest = digest,
                                .lat_us = lat + t * per, .start = &start};
        if (pthread_create(&ws[t].thread, NULL, writer_main, &ws[t]) != 0)
            return 1;
    }
    pthread_barrier_wait(&start);
    double t0 = now_s();
    int failed = 0;
    for (unsigned long t = 0; t < writers; t++) {
        pthread_join(ws[t].thread, NULL);
        failed |= ws[t].failed;
    }
    double dt = now_s() - t0;
    pthread_barrier_destroy(&start);
    if (audit_close(log, &err) < 0)
        return die("close", &err);
    if (failed)
        return 1;
    size_t n = per * writers;
    double p50 = percentile(lat, n, 0.50), p99 = percentile(lat, n, 0.99), max = lat[n - 1];
    printf("durable appends, %lu concurrent writers: %zu in %.3f s = %.0f records/s"
           " (append latency p50 %.0f us, p99 %.0f us, max %.0f us)\n",
           writers, n, dt, (double)n / dt, p50, p99, max);
    struct audit_verify_result res;
    char pub[4200];
    snprintf(pub, sizeof(pub), "%s/audit.pub", keys);
    if (audit_verify_db(db, pub, &res, &err) < 0)
        return die("verify concurrent", &err);
    if (!res.ok || res.records != n) {
        fprintf(stderr, "audit-bench: concurrent log: %" PRIu64 " records verify, %zu acknowledged: %s\n",
                res.records, n, res.reason);
        return 1;
    }
    free(ws);
    free(lat);
    return 0;
}

static int die(const char *what, const struct error *err)
{
    fprintf(stderr, "audit-bench: %s: %s\n", what, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = "build/bench-audit";
    unsigned long appends = 2000, verify_records = 100000, writers = 0, concurrent = 0;
    struct audit_options opts = {0}; /* --witness FILE: the main log's checkpoints go there too */
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"appends", required_argument, NULL, 'a'},
        {"verify-records", required_argument, NULL, 'v'},
        {"writers", required_argument, NULL, 'w'},
        {"concurrent", required_argument, NULL, 'c'},
        {"witness", required_argument, NULL, 'W'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'a':
            appends = strtoul(optarg, NULL, 10);
            break;
        case 'v':
            verify_records = strtoul(optarg, NULL, 10);
            break;
        case 'w':
            writers = strtoul(optarg, NULL, 10);
            break;
        case 'c':
            concurrent = strtoul(optarg, NULL, 10);
            break;
        case 'W':
            opts.witness_path = optarg;
            break;
        default:
            fprintf(stderr, "usage: audit-bench [--dir DIR] [--appends N] [--verify-records N]"
                            " [--writers T --concurrent N] [--witness FILE]\n");
            return 2;
        }
    }
    if (appends == 0 || verify_records < appends || (writers > 0 && concurrent < writers) ||
        writers > 4096) {
        fprintf(stderr, "audit-bench: need 0 < appends <= verify-records\n");
        return 2;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "audit-bench: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char db[4096], keys[4096], export_path[4096];
    snprintf(db, sizeof(db), "%s/audit.db", dir);
    snprintf(keys, sizeof(keys), "%s/keys", dir);
    snprintf(export_path, sizeof(export_path), "%s/audit.jsonl", dir);
    /* Start from an empty log every run. */
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof(p), "%s%s", db, suffixes[i]);
        unlink(p);
    }
    unlink(export_path);

    char digest[AUDIT_HASH_HEX_SIZE];
    digest_sha256_hex("bench", 5, digest);
    struct error err;
    struct audit_log *log = NULL;
    if (audit_open(db, keys, &opts, &log, &err) < 0)
        return die("open", &err);

    printf("audit bench in %s (WAL, synchronous=FULL, checkpoint every 100 records)\n", dir);
    double *lat = calloc(appends, sizeof(double));
    if (lat == NULL)
        return 1;
    double t0 = now_s();
    for (uint64_t i = 0; i < appends; i++) {
        struct audit_record_in in;
        char details[128];
        fill(&in, details, i, digest);
        double a0 = now_s();
        if (audit_append(log, &in, NULL, &err) < 0)
            return die("append", &err);
        lat[i] = (now_s() - a0) * 1e6;
    }
    double dt = now_s() - t0;
    printf("durable appends, one writer, one at a time: %lu in %.3f s = %.0f records/s"
           " (append latency p50 %.0f us, p99 %.0f us)\n",
           appends, dt, (double)appends / dt, percentile(lat, appends, 0.50),
           percentile(lat, appends, 0.99));
    free(lat);
    if (writers > 0) {
        if (audit_close(log, &err) < 0)
            return die("close", &err);
        if (bench_concurrent(dir, keys, writers, concurrent, digest) != 0)
            return 1;
        if (audit_open(db, keys, &opts, &log, &err) < 0)
            return die("reopen", &err);
    }

    /* Fill up to verify_records with batches of 100 (one fsync per batch). */
    enum { BATCH = 100 };
    struct audit_record_in batch[BATCH];
    static char batch_details[BATCH][128];
    uint64_t batched = 0, total = appends;
    t0 = now_s();
    while (total < verify_records) {
        size_t n = verify_records - total < BATCH ? verify_records - total : BATCH;
        for (size_t i = 0; i < n; i++)
            fill(&batch[i], batch_details[i], total + i, digest);
        if (audit_append_batch(log, batch, n, NULL, &err) < 0)
            return die("append_batch", &err);
        total += n;
        batched += n;
    }
    dt = now_s() - t0;
    if (batched > 0)
        printf("durable appends, batches of %d:         %" PRIu64 " in %.3f s = %.0f records/s\n",
               BATCH, batched, dt, (double)batched / dt);
    if (audit_close(log, &err) < 0)
        return die("close", &err);

    char pub[4200];
    snprintf(pub, sizeof(pub), "%s/audit.pub", keys);
    struct audit_verify_result res;
    t0 = now_s();
    if (audit_verify_db(db, pub, &res, &err) < 0)
        return die("verify_db", &err);
    dt = now_s() - t0;
    if (!res.ok) {
        fprintf(stderr, "audit-bench: log does not verify: seq %" PRIu64 ": %s\n", res.fail_seq,
                res.reason);
        return 1;
    }
    printf("verify SQLite log:   %" PRIu64 " records, %" PRIu64
           " checkpoints in %.3f s = %.0f records/s\n",
           res.records, res.checkpoints, dt, (double)res.records / dt);

    struct audit_options ro = {.read_only = true};
    if (audit_open(db, NULL, &ro, &log, &err) < 0)
        return die("open read-only", &err);
    FILE *out = fopen(export_path, "w");
    if (out == NULL)
        return 1;
    t0 = now_s();
    int64_t exported = audit_export_jsonl(log, out, &err);
    fclose(out);
    audit_close(log, NULL);
    if (exported < 0)
        return die("export", &err);
    dt = now_s() - t0;
    printf("export JSON lines:   %" PRId64 " records in %.3f s = %.0f records/s\n", exported, dt,
           (double)exported / dt);

    if (audit_open(db, NULL, &ro, &log, &err) < 0)
        return die("open read-only", &err);
    char *proof = NULL;
    t0 = now_s();
    if (audit_proof_inclusion(log, 1, 0, &proof, &err) < 0)
        return die("proof", &err);
    dt = now_s() - t0;
    free(proof);
    audit_close(log, NULL);
    printf("inclusion proof:     over %" PRId64 " records in %.3f s (read every leaf, hash the tree)\n",
           exported, dt);

    FILE *in = fopen(export_path, "r");
    if (in == NULL)
        return 1;
    t0 = now_s();
    int rc = audit_verify_jsonl(in, pub, &res, &err);
    fclose(in);
    if (rc < 0)
        return die("verify_jsonl", &err);
    dt = now_s() - t0;
    if (!res.ok) {
        fprintf(stderr, "audit-bench: export does not verify: seq %" PRIu64 ": %s\n",
                res.fail_seq, res.reason);
        return 1;
    }
    printf("verify JSON lines:   %" PRIu64 " records, %" PRIu64
           " checkpoints in %.3f s = %.0f records/s\n",
           res.records, res.checkpoints, dt, (double)res.records / dt);
    return 0;
}
