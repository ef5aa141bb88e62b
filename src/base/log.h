/* Logging to stderr (never stdout: on stdio, stdout carries MCP messages).
 * One line per message: "pforge: <level>: <text>". Thread-safe: each line is
 * written with a single write(2). */
#ifndef PF_BASE_LOG_H
#define PF_BASE_LOG_H

typedef enum pf_log_level {
  PF_LOG_DEBUG = 0,
  PF_LOG_INFO,
  PF_LOG_WARN,
  PF_LOG_ERROR,
  PF_LOG_OFF
} pf_log_level;

void pf__log_set_level(pf_log_level l);
pf_log_level pf__log_get_level(void);
/* "debug", "info", "warn"/"warning", "error", "off"; returns -1 if unknown. */
int pf__log_parse_level(const char *s);
const char *pf__log_level_name(pf_log_level l);

void pf__log(pf_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pf_debug(...) pf__log(PF_LOG_DEBUG, __VA_ARGS__)
#define pf_info(...) pf__log(PF_LOG_INFO, __VA_ARGS__)
#define pf_warn(...) pf__log(PF_LOG_WARN, __VA_ARGS__)
#define pf_error(...) pf__log(PF_LOG_ERROR, __VA_ARGS__)

#endif
