#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "common/paths.h"

/* --detach: the child runs the daemon and reports "ready" (or an error) on a
 * pipe; the parent waits for that line, so a script can use the API at once. */
static int detach_and_run(struct up_args *a)
{
    int p[2];
    if (pipe(p) < 0) {
        perror("enclave up: pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("enclave up: fork");
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        setsid();
        pid_t again = fork(); /* not a session leader: never gets a terminal back */
        if (again < 0)
            _exit(1);
        if (again > 0)
            _exit(0);
        /* The daemon's log goes to a file; the terminal is left alone. */
        char log_path[4200];
        struct error err;
        if (paths_home(log_path, sizeof(log_path), "run", &err) == 0 &&
            paths_mkdir_p(log_path, 0700, &err) == 0) {
            strncat(log_path, "/daemon.log", sizeof(log_path) - strlen(log_path) - 1);
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        a->daemon.ready_fd = p[1];
        _exit(daemon_run(&a->daemon));
    }
    close(p[1]);
    waitpid(pid, NULL, 0);
    char line[1200];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(line) - 1 && (n = read(p[0], line + len, sizeof(line) - 1 - len)) > 0)
        len += (size_t)n;
    close(p[0]);
    line[len] = '\0';
    if (strncmp(line, "ready", 5) == 0) {
        char log_path[4200] = "$ENCLAVE_HOME/run";
        struct error err;
        paths_home(log_path, sizeof(log_path), "run", &err);
        fprintf(stderr, "enclave up: daemon started in the background (log: %s/daemon.log)\n",
                log_path);
        return 0;
    }
    /* The daemon's own line (its reason for not starting), escaped like
     * every other text from it; its newline ends ours. */
    if (len > 0 && line[len - 1] == '\n')
        line[len - 1] = '\0';
    fprintf(stderr, "enclave up: ");
    cli_put_escaped(stderr, len ? line : "the daemon exited before it was ready");
    fputc('\n', stderr);
    return 1;
}

int cli_up(int argc, char **argv)
{
    struct up_args a;
    struct error err;
    int r = args_parse_up(argc, argv, &a, &err);
    if (r == 1)
        return 0;
    if (r < 0)
        return cli_usage_error("up", "%s", err.message);
    if (a.detach)
        return detach_and_run(&a);
    return daemon_run(&a.daemon);
}
