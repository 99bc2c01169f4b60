/* `enclave mcp`: a Model Context Protocol server over stdio (newline-
 * delimited JSON-RPC 2.0) whose tools run in one Enclave session, started
 * on the first tool call and stopped when the client goes away.
 *
 * The message handling is separate from stdio and from the daemon (struct
 * mcp_ops) so that tests and the fuzz harness can drive it. */
#ifndef ENCLAVE_CLI_MCP_H
#define ENCLAVE_CLI_MCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/client.h"

#define MCP_PROTOCOL_LATEST "2025-11-25"
#define MCP_MAX_LINE_DEFAULT (4u << 20) /* bytes in one message */
#define MCP_MAX_TOOL_OUTPUT (256u << 10) /* bytes of output per stream a tool returns */

/* The daemon, as the server reaches it (client_call / client_stream /
 * client_put in the real command). */
struct mcp_ops {
    int (*call)(const struct client_target *t, const char *service, const char *method, json_t *req,
                unsigned timeout_s, json_t **resp, struct error *err);
    int (*stream)(const struct client_target *t, const char *service, const char *method,
                  json_t *req, unsigned timeout_s, client_message_fn on_message, void *ctx,
                  struct error *err);
    int (*put)(const struct client_target *t, const char *path, const void *body, size_t len,
               unsigned timeout_s, json_t **resp, struct error *err);
};

struct mcp_server {
    struct client_target target;
    const struct mcp_ops *ops;
    int vcpu, memory_mb, idle_timeout_s;
    size_t max_line;
    char session_id[128]; /* "" until the first tool call */
    bool initialized;
};

void mcp_server_init(struct mcp_server *s, const struct mcp_ops *ops);
/* Handles one message (a line without its newline). *out: the reply line
 * (malloc'd, no newline) or NULL when none is due (a notification). */
int mcp_handle(struct mcp_server *s, const char *line, size_t len, char **out);
/* The JSON-RPC error for a line over max_line (malloc'd). */
char *mcp_oversized_reply(const struct mcp_server *s);
/* Stops the session, if one was started. */
void mcp_server_close(struct mcp_server *s);

#endif
