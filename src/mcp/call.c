/* The native tool ABI (include/pforge/pforge.h) over a pf_call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base64.h"
#include "json/internal.h"
#include "mcp/mcp.h"
#include "schema/validator.h"

const char *const pf__level_names[8] = {"debug", "info",     "notice", "warning",
                                        "error", "critical", "alert",  "emergency"};

int pf__level_parse(const char *name, size_t len) {
  for (int i = 0; i < 8; i++)
    if (strlen(pf__level_names[i]) == len && memcmp(pf__level_names[i], name, len) == 0)
      return i;
  return -1;
}

void pf__call_init(pf_call *c, pf__session *s, const pf__tool *tool, const pf_json *args,
                   pf_buf *content, pf_buf *structured, pf_buf *notify, pf_arena *arena,
                   const pf_json *progress_token) {
  c->s = s;
  c->tool = tool;
  c->name = tool ? tool->cfg->name : NULL;
  c->args = args;
  c->content = content;
  c->structured = structured;
  c->notify = notify;
  c->arena = arena;
  c->progress_token = progress_token;
  c->log_level = s->log_level;
  c->proto = s->proto;
  c->notify_lock = NULL;
  c->wake = NULL;
  c->async = NULL;
  c->outer_cancelled = NULL;
  c->upstream_status = 0;
  atomic_init(&c->close_retry, 0);
  c->route_can_close = false;
  c->last_progress = -1e300;
  c->nblocks = 0;
  c->is_error = false;
  c->has_structured = false;
  atomic_init(&c->cancelled, false);
  c->mime_type = NULL;
  c->resource = false;
  pf_buf_reset(content);
  pf_buf_reset(structured);
}

const pf_json *pf_args(pf_call *call) { return call->args; }

const pf_json *pf_arg(pf_call *call, const char *name) {
  size_t len = strlen(name);
  const pf_json *v = pf_json_getn(call->args, name, len);
  if (!v && call->tool)
    v = pf_validator_default(call->tool->input, name, len);
  return v;
}

const char *pf_arg_str(pf_call *call, const char *name, const char *def) {
  return pf_json_str_or(pf_arg(call, name), def);
}
int64_t pf_arg_int(pf_call *call, const char *name, int64_t def) {
  return pf_json_int_or(pf_arg(call, name), def);
}
double pf_arg_number(pf_call *call, const char *name, double def) {
  return pf_json_num_or(pf_arg(call, name), def);
}
bool pf_arg_bool(pf_call *call, const char *name, bool def) {
  return pf_json_bool_or(pf_arg(call, name), def);
}

const char *pf_call_name(pf_call *call) { return call->name; }

void *pf_call_alloc(pf_call *call, size_t size) { return pf_arena_alloc(call->arena, size); }

/* Starts a content block: the separating comma and the opening of the
 * object up to its type. */
static pf_json_writer block(pf_call *call, const char *type, size_t tlen) {
  pf_json_writer w;
  pf_jw_init(&w, call->content);
  w.comma = call->nblocks > 0;
  call->nblocks++;
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "type");
  pf_jw_str(&w, type, tlen);
  return w;
}

static int done(pf_call *call) { return call->content->failed ? -PF_ENOMEM : 0; }

/* Resource handlers write `contents` entries: {uri, mimeType?, text|blob}. */
static pf_json_writer content_entry(pf_call *call) {
  pf_json_writer w;
  pf_jw_init(&w, call->content);
  w.comma = call->nblocks > 0;
  call->nblocks++;
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "uri");
  pf_jw_strz(&w, call->name);
  if (call->mime_type) {
    PF_JW_KEY(&w, "mimeType");
    pf_jw_strz(&w, call->mime_type);
  }
  return w;
}

int pf_result_text(pf_call *call, const char *text, size_t len) {
  if (call->resource) {
    pf_json_writer w = content_entry(call);
    PF_JW_KEY(&w, "text");
    pf_jw_str(&w, text, len);
    pf_jw_obj_end(&w);
    return done(call);
  }
  /* the common case, with its constant part appended as is */
  static const char head[] = "{\"type\":\"text\",\"text\":\"";
  pf_buf *b = call->content;
  if (len <= 4096) {
    /* one reservation for the whole block */
    if (pf_buf_reserve(b, 1 + sizeof head + 6 * len + PF__ESCAPE_SLACK + 2) != 0)
      return done(call);
    char *o = b->data + b->len;
    if (call->nblocks++ > 0)
      *o++ = ',';
    memcpy(o, head, sizeof head - 1);
    o = pf__json_escape_to(o + sizeof head - 1, text, len);
    o[0] = '"';
    o[1] = '}';
    b->len = (size_t)(o + 2 - b->data);
    return done(call);
  }
  if (call->nblocks++ > 0)
    pf_buf_putc(b, ',');
  pf_buf_append(b, head, sizeof head - 1);
  pf_json_escape(b, text, len);
  pf_buf_append(b, "\"}", 2);
  return done(call);
}

int pf_result_textz(pf_call *call, const char *text) {
  return pf_result_text(call, text, text ? strlen(text) : 0);
}

__attribute__((format(printf, 2, 0))) static int vtext(pf_call *call, const char *fmt, va_list ap) {
  char small[512];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return -PF_EINVAL;
  }
  int rc;
  if ((size_t)n < sizeof small) {
    rc = pf_result_text(call, small, (size_t)n);
  } else {
    char *big = pf_arena_alloc(call->arena, (size_t)n + 1);
    if (!big) {
      va_end(ap2);
      return -PF_ENOMEM;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap2);
    rc = pf_result_text(call, big, (size_t)n);
  }
  va_end(ap2);
  return rc;
}

int pf_result_textf(pf_call *call, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vtext(call, fmt, ap);
  va_end(ap);
  return rc;
}

int pf_result_error(pf_call *call, const char *fmt, ...) {
  call->is_error = true;
  va_list ap;
  va_start(ap, fmt);
  int rc = vtext(call, fmt, ap);
  va_end(ap);
  return rc;
}

static int binary(pf_call *call, const char *type, size_t tlen, const void *data, size_t len,
                  const char *mime) {
  if (call->resource) {
    const char *saved = call->mime_type;
    if (mime)
      call->mime_type = mime;
    pf_json_writer w = content_entry(call);
    call->mime_type = saved;
    PF_JW_KEY(&w, "blob");
    pf_buf_putc(call->content, '"');
    pf__base64_encode(call->content, data, len);
    pf_buf_putc(call->content, '"');
    w.comma = true;
    pf_jw_obj_end(&w);
    return done(call);
  }
  pf_json_writer w = block(call, type, tlen);
  PF_JW_KEY(&w, "data");
  pf_buf_putc(call->content, '"');
  pf__base64_encode(call->content, data, len);
  pf_buf_putc(call->content, '"');
  w.comma = true;
  PF_JW_KEY(&w, "mimeType");
  pf_jw_strz(&w, mime ? mime : "application/octet-stream");
  pf_jw_obj_end(&w);
  return done(call);
}

int pf_result_image(pf_call *call, const void *data, size_t len, const char *mime_type) {
  return binary(call, "image", 5, data, len, mime_type);
}

int pf_result_audio(pf_call *call, const void *data, size_t len, const char *mime_type) {
  return binary(call, "audio", 5, data, len, mime_type);
}

int pf_result_resource_link(pf_call *call, const char *uri, const char *name,
                            const char *mime_type) {
  pf_json_writer w = block(call, "resource_link", 13);
  PF_JW_KEY(&w, "uri");
  pf_jw_strz(&w, uri);
  PF_JW_KEY(&w, "name");
  pf_jw_strz(&w, name ? name : uri);
  if (mime_type) {
    PF_JW_KEY(&w, "mimeType");
    pf_jw_strz(&w, mime_type);
  }
  pf_jw_obj_end(&w);
  return done(call);
}

static void resource_head(pf_call *call, pf_json_writer *w, const char *uri, const char *mime) {
  *w = block(call, "resource", 8);
  PF_JW_KEY(w, "resource");
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "uri");
  pf_jw_strz(w, uri);
  if (mime) {
    PF_JW_KEY(w, "mimeType");
    pf_jw_strz(w, mime);
  }
}

int pf_result_resource_text(pf_call *call, const char *uri, const char *mime_type, const char *text,
                            size_t len) {
  pf_json_writer w;
  resource_head(call, &w, uri, mime_type);
  PF_JW_KEY(&w, "text");
  pf_jw_str(&w, text, len);
  pf_jw_obj_end(&w);
  pf_jw_obj_end(&w);
  return done(call);
}

int pf_result_resource_blob(pf_call *call, const char *uri, const char *mime_type, const void *data,
                            size_t len) {
  if (call->resource)
    return binary(call, "blob", 4, data, len, mime_type);
  pf_json_writer w;
  resource_head(call, &w, uri, mime_type);
  PF_JW_KEY(&w, "blob");
  pf_buf_putc(call->content, '"');
  pf__base64_encode(call->content, data, len);
  pf_buf_putc(call->content, '"');
  w.comma = true;
  pf_jw_obj_end(&w);
  pf_jw_obj_end(&w);
  return done(call);
}

pf_json_writer *pf_result_structured(pf_call *call) {
  pf_buf_reset(call->structured);
  pf_jw_init(&call->sw, call->structured);
  call->has_structured = true;
  return &call->sw;
}

/* A blocking call appends notifications under its lock and then wakes the
 * loop thread, which sends them while the handler keeps running. */
static void notify_begin(pf_call *call) {
  if (call->notify_lock)
    uv_mutex_lock(call->notify_lock);
}

static void notify_end(pf_call *call) {
  if (call->notify_lock) {
    uv_mutex_unlock(call->notify_lock);
    uv_async_send(call->wake);
  }
}

int pf_progress(pf_call *call, double progress, double total, const char *message) {
  if (!call->progress_token || !(progress > call->last_progress) || pf_cancelled(call))
    return 0;
  call->last_progress = progress;
  notify_begin(call);
  pf_json_writer w;
  pf_jw_init(&w, call->notify);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "jsonrpc");
  pf_jw_str(&w, "2.0", 3);
  PF_JW_KEY(&w, "method");
  pf_jw_strz(&w, "notifications/progress");
  PF_JW_KEY(&w, "params");
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "progressToken");
  pf_jw_value(&w, call->progress_token);
  PF_JW_KEY(&w, "progress");
  pf_jw_double(&w, progress);
  if (total > 0) {
    PF_JW_KEY(&w, "total");
    pf_jw_double(&w, total);
  }
  if (message && call->proto >= PF_PROTO_2025_03_26) {
    PF_JW_KEY(&w, "message");
    pf_jw_strz(&w, message);
  }
  pf_jw_obj_end(&w);
  pf_jw_obj_end(&w);
  pf_buf_putc(call->notify, '\n');
  notify_end(call);
  return 0;
}

static void write_log(pf_buf *out, pf_level level, const char *logger, const char *text,
                      size_t len) {
  pf_json_writer w;
  pf_jw_init(&w, out);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "jsonrpc");
  pf_jw_str(&w, "2.0", 3);
  PF_JW_KEY(&w, "method");
  pf_jw_strz(&w, "notifications/message");
  PF_JW_KEY(&w, "params");
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "level");
  pf_jw_strz(&w, pf__level_names[level]);
  if (logger) {
    PF_JW_KEY(&w, "logger");
    pf_jw_strz(&w, logger);
  }
  PF_JW_KEY(&w, "data");
  pf_jw_str(&w, text, len);
  pf_jw_obj_end(&w);
  pf_jw_obj_end(&w);
  pf_buf_putc(out, '\n');
}

void pf__notify_log(pf__session *s, pf_buf *out, pf_level level, const char *logger,
                    const char *text, size_t len) {
  if ((int)level >= (int)s->log_level)
    write_log(out, level, logger, text, len);
}

int pf_log(pf_call *call, pf_level level, const char *logger, const char *fmt, ...) {
  /* the session's current level: logging/setLevel applies to calls
   * already running too */
  if ((unsigned)level > PF_LEVEL_EMERGENCY || (int)level < (int)call->s->log_level ||
      pf_cancelled(call))
    return 0;
  char small[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -PF_EINVAL;
  size_t len = (size_t)n < sizeof small ? (size_t)n : sizeof small - 1;
  notify_begin(call);
  write_log(call->notify, level, logger ? logger : call->name, small, len);
  notify_end(call);
  return 0;
}

bool pf_cancelled(pf_call *call) {
  return atomic_load(&call->cancelled) ||
         (call->outer_cancelled && atomic_load(call->outer_cancelled));
}

int pf_resource_updated(pf_call *call, const char *uri) {
  if (!uri)
    return -PF_EINVAL;
  pf__server_resource_updated(call->s->srv, uri, strlen(uri));
  return 0;
}

int pf_stream_close(pf_call *call, unsigned retry_ms) {
  if (!call->async || !call->route_can_close)
    return -PF_ENOTSUP;
  if (retry_ms > 86400000)
    retry_ms = 86400000;
  atomic_store(&call->close_retry, retry_ms + 1);
  uv_async_send(call->wake);
  return 0;
}

int pf_set_enabled(pf_call *call, const char *kind, const char *name, bool enabled) {
  return pf__server_set_enabled(call->s->srv, kind, name, enabled);
}

const pf_json *pf_progress_token(pf_call *call) { return call->progress_token; }
