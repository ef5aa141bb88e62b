#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static pf_log_level level = PF_LOG_INFO;

static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void pf__log_set_level(pf_log_level l) { level = l; }
pf_log_level pf__log_get_level(void) { return level; }

const char *pf__log_level_name(pf_log_level l) {
  return (unsigned)l <= PF_LOG_OFF ? names[l] : "?";
}

int pf__log_parse_level(const char *s) {
  if (!s)
    return -1;
  for (int i = 0; i <= PF_LOG_OFF; i++)
    if (strcasecmp(s, names[i]) == 0)
      return i;
  if (strcasecmp(s, "warning") == 0)
    return PF_LOG_WARN;
  return -1;
}

void pf__log(pf_log_level l, const char *fmt, ...) {
  if (l < level || l >= PF_LOG_OFF)
    return;
  char line[2048];
  int n = snprintf(line, sizeof line, "pforge: %s: ", names[l]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0)
    m = 0;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof line - 2)
    len = sizeof line - 2; /* truncated */
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
