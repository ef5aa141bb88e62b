/* Per-tool counters in the Prometheus text exposition format (0.0.4). */
#include <stdio.h>
#include <string.h>

#include "mcp/internal.h"

static void counter(pf_buf *out, const char *name, const char *help, const pf_server *srv,
                    size_t off) {
  pf_buf_printf(out, "# HELP pforge_tool_%s %s\n# TYPE pforge_tool_%s counter\n", name, help,
                name);
  for (size_t i = 0; i < srv->ntools; i++) {
    const pf__tool *t = &srv->tools[i];
    const _Atomic uint64_t *v =
        (const _Atomic uint64_t *)((const char *)pf__stats_peek(&t->stats) + off);
    pf_buf_printf(out, "pforge_tool_%s{tool=\"%s\"} %llu\n", name, t->cfg->name,
                  (unsigned long long)atomic_load_explicit(v, memory_order_relaxed));
  }
}

void pf__server_metrics(pf_server *srv, pf_buf *out) {
  counter(out, "calls_total", "Calls answered (after retries and fallbacks).", srv,
          offsetof(pf__tool_stats, calls));
  counter(out, "errors_total", "Calls answered with isError.", srv,
          offsetof(pf__tool_stats, errors));
  counter(out, "timeouts_total", "Attempts that ran out of time.", srv,
          offsetof(pf__tool_stats, timeouts));
  counter(out, "retries_total", "Attempts after the first.", srv,
          offsetof(pf__tool_stats, retries));
  counter(out, "rejected_total", "Calls refused by the circuit breaker or the bulkhead.", srv,
          offsetof(pf__tool_stats, rejected));
  counter(out, "fallbacks_total", "Calls answered by the fallback tool.", srv,
          offsetof(pf__tool_stats, fallbacks));
  pf_buf_puts(out, "# HELP pforge_tool_duration_seconds Time to answer a call.\n"
                   "# TYPE pforge_tool_duration_seconds histogram\n");
  for (size_t i = 0; i < srv->ntools; i++) {
    const pf__tool *t = &srv->tools[i];
    const pf__tool_stats *st = pf__stats_peek(&t->stats);
    uint64_t cum = 0;
    for (size_t b = 0; b < PF__LAT_BUCKETS; b++) {
      cum += atomic_load_explicit(&st->lat[b], memory_order_relaxed);
      if (b < PF__LAT_BUCKETS - 1)
        pf_buf_printf(out, "pforge_tool_duration_seconds_bucket{tool=\"%s\",le=\"%g\"} %llu\n",
                      t->cfg->name, pf__lat_bounds_us[b] / 1e6, (unsigned long long)cum);
      else
        pf_buf_printf(out, "pforge_tool_duration_seconds_bucket{tool=\"%s\",le=\"+Inf\"} %llu\n",
                      t->cfg->name, (unsigned long long)cum);
    }
    pf_buf_printf(out, "pforge_tool_duration_seconds_sum{tool=\"%s\"} %.6f\n", t->cfg->name,
                  atomic_load_explicit(&st->lat_sum_us, memory_order_relaxed) / 1e6);
    pf_buf_printf(out, "pforge_tool_duration_seconds_count{tool=\"%s\"} %llu\n", t->cfg->name,
                  (unsigned long long)cum);
  }
  /* one family per loop: a family's samples must be contiguous */
  uint64_t now_ms = pf__now_ns() / 1000000;
  static const char *const fam[4][3] = {
      {"circuit_state", "gauge", "Circuit breaker: 0 closed, 1 open, 2 half-open."},
      {"circuit_opened_total", "counter", "Times the circuit breaker opened."},
      {"running", "gauge", "Calls holding a bulkhead slot."},
      {"queued", "gauge", "Calls waiting for a bulkhead slot."}};
  for (int f = 0; f < 4; f++) {
    bool head = false;
    for (size_t i = 0; i < srv->ntools; i++) {
      pf__tool *t = &srv->tools[i];
      unsigned long long v;
      if (f < 2 && t->rare->breaker)
        v = f == 0 ? (unsigned long long)pf__breaker_state(t->rare->breaker, now_ms)
                   : (unsigned long long)atomic_load(&t->rare->breaker->opened);
      else if (f >= 2 && t->rare->bulkhead) {
        uv_mutex_lock(&t->rare->bulkhead->lock);
        v = f == 2 ? t->rare->bulkhead->active : t->rare->bulkhead->nqueued;
        uv_mutex_unlock(&t->rare->bulkhead->lock);
      } else
        continue;
      if (!head)
        pf_buf_printf(out, "# HELP pforge_tool_%s %s\n# TYPE pforge_tool_%s %s\n", fam[f][0],
                      fam[f][2], fam[f][0], fam[f][1]);
      head = true;
      pf_buf_printf(out, "pforge_tool_%s{tool=\"%s\"} %llu\n", fam[f][0], t->cfg->name, v);
    }
  }
  size_t nsessions = 0;
  uv_mutex_lock(&srv->sessions_lock);
  for (pf__session *s = srv->sessions; s; s = s->next)
    nsessions++;
  uv_mutex_unlock(&srv->sessions_lock);
  pf_buf_printf(out,
                "# HELP pforge_sessions Live MCP sessions.\n# TYPE pforge_sessions gauge\n"
                "pforge_sessions %zu\n",
                nsessions);
}
