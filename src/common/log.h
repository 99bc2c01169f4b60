/* Logging to stderr with a level; the daemon's one place to print. */
#ifndef ENCLAVE_COMMON_LOG_H
#define ENCLAVE_COMMON_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

void log_set_level(enum log_level level);
/* True when messages of this level are printed. */
int log_get_level_enabled(enum log_level level);
/* Reads ENCLAVE_LOG=debug|info|warn|error. */
void log_init_from_env(void);
/* One line on stderr, the message's control characters escaped
 * (text_escape_terminal): one message is one line, whatever it quotes. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
