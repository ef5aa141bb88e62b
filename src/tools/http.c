/* http tools: libcurl's multi interface on the loop thread.
 *
 * Each loop thread that makes requests has one `mloop`: a CURLM, a
 * uv_timer_t for CURLMOPT_TIMERFUNCTION and a uv_poll_t per socket curl
 * asks us to watch (CURLMOPT_SOCKETFUNCTION). It is created on the thread's
 * first request and destroyed when its last transfer ends, so an idle loop
 * keeps no handle of ours (stdio exits when stdin closes; HTTP workers
 * close their loops). Connections, the DNS cache and TLS sessions live
 * instead in a per-thread CURLSH (libcurl does not support sharing
 * connections between threads), so calls one after the other reuse them;
 * it holds no libuv handle, and is freed at thread exit (a pthread key
 * destructor) or, for the thread that loaded the config, with the last
 * http tool.
 *
 * Secrets (auth token, password, key) are read at call time, go only into
 * the request, and are scrubbed from every text we produce (messages,
 * error excerpts); they are never logged.
 */
#include "tools/http.h"
#include "tools/curl_dl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pforge/version.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/log.h"
#include "schema/validator.h"
#include "template/jsontmpl.h"
#include "template/template.h"
#include "template/uri.h"

typedef struct pf__http {
  pf_tmpl *base;     /* a templated URL's leading {{var}} (raw), or NULL */
  pf_tmpl *endpoint; /* the rest of the URL: variables percent-encoded */
  pf_tmpl **headers; /* one per cfg->headers value */
  pf_tmpl **query;   /* one per cfg->query value */
  pf_jtmpl *body;    /* body_template, or NULL */
  bool args_body;    /* no body_template, POST/PUT/PATCH: the arguments are the body */
} pf__http;

static int http_start(pf_call *c, uv_loop_t *loop);

/* http tools prepared and not yet freed: libcurl is initialized with the
 * first and cleaned up with the last. Load and destroy are single-threaded. */
static int curl_users;
static pthread_key_t share_key; /* the thread's CURLSH, freed at thread exit */

static void share_free(void *p) { pf__curl.curl_share_cleanup(p); }

/* The calling thread's share, created on first use; NULL if that fails
 * (transfers then work without it). */
static CURLSH *thread_share(void) {
  CURLSH *sh = pthread_getspecific(share_key);
  if (sh)
    return sh;
  sh = pf__curl.curl_share_init();
  if (!sh)
    return NULL;
  pf__curl.curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  pf__curl.curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  pf__curl.curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if (pthread_setspecific(share_key, sh) != 0) {
    pf__curl.curl_share_cleanup(sh);
    return NULL;
  }
  return sh;
}

/* ------------------------------------------------------------------ */
/* Load                                                                 */

static pf_tmpl *compile(const char *what, const char *text, size_t len, pf_buf *err, int *rc) {
  pf_buf e = PF_BUF_INIT;
  pf_tmpl *t = pf_tmpl_compile(text, len, &e);
  if (!t) {
    pf_buf_printf(err, "%s: %s", what, pf_buf_cstr(&e));
    *rc = -PF_ECONFIG;
  }
  pf_buf_free(&e);
  return t;
}

static pf_tmpl **compile_kv(const char *what, const pf_cfg_kv *kv, size_t n, pf_buf *err, int *rc) {
  pf_tmpl **ts = pf__malloc((n ? n : 1) * sizeof *ts);
  if (!ts) {
    *rc = -PF_ENOMEM;
    return NULL;
  }
  memset(ts, 0, (n ? n : 1) * sizeof *ts);
  for (size_t i = 0; i < n && *rc == 0; i++) {
    char w[160];
    snprintf(w, sizeof w, "%s.%s", what, kv[i].key);
    ts[i] = compile(w, kv[i].value, strlen(kv[i].value), err, rc);
  }
  return ts;
}

typedef struct varset {
  const char *v[64];
  size_t n;
} varset;

static void add_var(varset *s, const char *v) {
  for (size_t j = 0; j < s->n; j++)
    if (strcmp(s->v[j], v) == 0)
      return;
  if (s->n < sizeof s->v / sizeof s->v[0])
    s->v[s->n++] = v;
}

static void add_vars(varset *s, const pf_tmpl *t) {
  for (size_t i = 0; t && i < pf_tmpl_nvars(t); i++)
    add_var(s, pf_tmpl_var(t, i));
}

/* RFC 9110 token: what a header name may be made of. */
static bool valid_header_name(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          strchr("!#$%&'*+-.^_`|~", *s)))
      return false;
  return true;
}

static bool has_body_method(const char *m) {
  return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

/* Every template variable becomes a required string param, as for cli
 * tools (the original pforge's examples declare no params). */
static int infer_params(pf_cfg_tool *cfg, const pf__http *k, pf_arena *arena) {
  varset s = {.n = 0};
  add_vars(&s, k->base);
  add_vars(&s, k->endpoint);
  for (size_t i = 0; i < cfg->more->http->nquery; i++)
    add_vars(&s, k->query[i]);
  for (size_t i = 0; i < cfg->more->http->nheaders; i++)
    add_vars(&s, k->headers[i]);
  for (size_t i = 0; i < pf_jtmpl_nvars(k->body); i++)
    add_var(&s, pf_jtmpl_var(k->body, i));
  if (!s.n)
    return 0;
  pf_cfg_param *ps = pf_arena_calloc(arena, s.n, sizeof *ps);
  if (!ps)
    return -PF_ENOMEM;
  for (size_t i = 0; i < s.n; i++) {
    ps[i].name = pf_arena_strndup(arena, s.v[i], strlen(s.v[i]));
    if (!ps[i].name)
      return -PF_ENOMEM;
    ps[i].type = PF_PARAM_STRING;
    ps[i].required = true;
    ps[i].min_length = ps[i].max_length = -1;
    ps[i].loc = cfg->build->loc;
  }
  cfg->build->params = ps;
  cfg->build->nparams = s.n;
  return 0;
}

int pf__http_prepare(pf_cfg_tool *cfg, pf__tool *t, pf_arena *arena, pf_buf *err) {
  /* memory first: a failure after curl_users++ would leave libcurl set up */
  pf__tool_rare *rare = pf__tool_rare_mut(t);
  pf__http *k = rare ? pf__malloc(sizeof *k) : NULL;
  if (!k)
    return -PF_ENOMEM;
  memset(k, 0, sizeof *k);
  if (curl_users == 0) {
    int lrc = pf__curl_load(err);
    if (lrc) {
      pf__free(k);
      return lrc;
    }
    if (pf__curl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      pf_buf_puts(err, "cannot initialize libcurl");
      pf__free(k);
      return -PF_ECONFIG;
    }
    if (pthread_key_create(&share_key, share_free) != 0) {
      pf__curl.curl_global_cleanup();
      pf__free(k);
      return -PF_ENOMEM;
    }
  }
  curl_users++;
  rare->kind_data = k;
  int rc = 0;
  const char *ep = cfg->more->http->endpoint ? cfg->more->http->endpoint : "";
  size_t eplen = strlen(ep);
  const char *close = strncmp(ep, "{{", 2) == 0 ? strstr(ep, "}}") : NULL;
  if (close) {
    /* `{{base_url}}/users/{{id}}`: the leading variable supplies scheme and
     * host and is not encoded; the rest is */
    size_t n = (size_t)(close + 2 - ep);
    k->base = compile("endpoint", ep, n, err, &rc);
    ep += n;
    eplen -= n;
  }
  if (rc == 0)
    k->endpoint = compile("endpoint", ep, eplen, err, &rc);
  for (size_t i = 0; i < cfg->more->http->nheaders && rc == 0; i++)
    if (!valid_header_name(cfg->more->http->headers[i].key)) {
      pf_buf_printf(err, "headers: invalid header name '%s'", cfg->more->http->headers[i].key);
      rc = -PF_ECONFIG;
    }
  if (rc == 0 && cfg->more->http->auth_header && !valid_header_name(cfg->more->http->auth_header)) {
    pf_buf_printf(err, "auth.header: invalid header name '%s'", cfg->more->http->auth_header);
    rc = -PF_ECONFIG;
  }
  if (rc == 0)
    k->headers = compile_kv("headers", cfg->more->http->headers, cfg->more->http->nheaders, err, &rc);
  if (rc == 0)
    k->query = compile_kv("query", cfg->more->http->query, cfg->more->http->nquery, err, &rc);
  if (rc == 0 && cfg->more->http->body_template) {
    pf_buf e = PF_BUF_INIT;
    k->body = pf_jtmpl_compile(cfg->more->http->body_template, strlen(cfg->more->http->body_template), &e);
    if (!k->body) {
      pf_buf_printf(err, "body_template: %s", pf_buf_cstr(&e));
      rc = -PF_ECONFIG;
    }
    pf_buf_free(&e);
  }
  if (rc)
    return rc;
  k->args_body = !k->body && has_body_method(cfg->more->http->method ? cfg->more->http->method : "GET");
  rare->start = http_start;
  t->loop = true;
  if (cfg->build->nparams == 0 && !cfg->input_schema_json)
    return infer_params(cfg, k, arena);
  return 0;
}

void pf__http_free(pf__tool *t) {
  pf__http *k = t->rare->kind_data;
  if (!k)
    return;
  pf_tmpl_free(k->base);
  pf_tmpl_free(k->endpoint);
  for (size_t i = 0; k->headers && i < t->cfg->more->http->nheaders; i++)
    pf_tmpl_free(k->headers[i]);
  pf__free(k->headers);
  for (size_t i = 0; k->query && i < t->cfg->more->http->nquery; i++)
    pf_tmpl_free(k->query[i]);
  pf__free(k->query);
  pf_jtmpl_free(k->body);
  pf__free(k);
  ((pf__tool_rare *)t->rare)->kind_data = NULL; /* its own block: it had kind_data */
  if (curl_users > 0 && --curl_users == 0) {
    /* this thread's share (the other threads' went with them) */
    CURLSH *sh = pthread_getspecific(share_key);
    pthread_setspecific(share_key, NULL);
    if (sh)
      pf__curl.curl_share_cleanup(sh);
    pthread_key_delete(share_key);
    pf__curl.curl_global_cleanup();
  }
}

/* ------------------------------------------------------------------ */
/* The per-loop multi handle                                            */

typedef struct msock msock;

typedef struct mloop {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  msock *socks;   /* polls not yet closing */
  int nhandles;   /* open uv handles (timer and polls); freed at 0 */
  int ntransfers; /* easy handles in the multi */
  bool dying;
} mloop;

struct msock {
  uv_poll_t poll;
  curl_socket_t fd;
  mloop *ml;
  msock *next;
};

/* The calling thread's multi (one loop per thread at a time). */
static _Thread_local mloop *tls_ml;

static void check_done(mloop *ml);

static void ml_handle_closed(uv_handle_t *h) {
  mloop *ml = h->data;
  if (h != (uv_handle_t *)&ml->timer)
    pf__free(h); /* a msock (poll is its first member) */
  if (--ml->nhandles == 0)
    pf__free(ml);
}

static void sock_close(msock *s) {
  mloop *ml = s->ml;
  for (msock **pp = &ml->socks; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, ml_handle_closed);
}

/* Once no transfer runs: closes everything (the last close callback frees
 * ml). Never called from inside a curl callback. */
static void ml_maybe_destroy(mloop *ml) {
  if (ml->ntransfers > 0 || ml->dying)
    return;
  ml->dying = true;
  if (tls_ml == ml)
    tls_ml = NULL;
  pf__curl.curl_multi_cleanup(ml->multi); /* may report sockets removed: closed below */
  ml->multi = NULL;
  while (ml->socks)
    sock_close(ml->socks);
  uv_timer_stop(&ml->timer);
  uv_close((uv_handle_t *)&ml->timer, ml_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  msock *s = (msock *)h;
  mloop *ml = s->ml;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int running;
  pf__curl.curl_multi_socket_action(ml->multi, s->fd, flags, &running);
  check_done(ml);
}

static void on_timer(uv_timer_t *h) {
  mloop *ml = h->data;
  int running;
  pf__curl.curl_multi_socket_action(ml->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(ml);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  mloop *ml = userp;
  msock *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      if (!ml->dying)
        pf__curl.curl_multi_assign(ml->multi, fd, NULL);
      sock_close(s);
    }
    return 0;
  }
  if (!s) {
    s = pf__malloc(sizeof *s);
    if (!s)
      return -1;
    memset(s, 0, sizeof *s);
    if (uv_poll_init_socket(ml->loop, &s->poll, fd) != 0) {
      pf__free(s);
      return -1;
    }
    s->fd = fd;
    s->ml = ml;
    s->poll.data = ml;
    s->next = ml->socks;
    ml->socks = s;
    ml->nhandles++;
    pf__curl.curl_multi_assign(ml->multi, fd, s);
  }
  int events = 0;
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  mloop *ml = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&ml->timer);
  else /* 0 too: curl must not be re-entered from its own callback */
    uv_timer_start(&ml->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

static mloop *ml_get(uv_loop_t *loop) {
  if (tls_ml && tls_ml->loop == loop)
    return tls_ml;
  if (tls_ml) /* another loop on this thread still busy: not supported */
    return NULL;
  mloop *ml = pf__malloc(sizeof *ml);
  if (!ml)
    return NULL;
  memset(ml, 0, sizeof *ml);
  ml->loop = loop;
  ml->multi = pf__curl.curl_multi_init();
  if (!ml->multi || uv_timer_init(loop, &ml->timer) != 0) {
    if (ml->multi)
      pf__curl.curl_multi_cleanup(ml->multi);
    pf__free(ml);
    return NULL;
  }
  ml->timer.data = ml;
  ml->nhandles = 1;
  pf__curl.curl_multi_setopt(ml->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  pf__curl.curl_multi_setopt(ml->multi, CURLMOPT_SOCKETDATA, ml);
  pf__curl.curl_multi_setopt(ml->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  pf__curl.curl_multi_setopt(ml->multi, CURLMOPT_TIMERDATA, ml);
  tls_ml = ml;
  return ml;
}

/* ------------------------------------------------------------------ */
/* A request                                                            */

#define MAX_SECRETS 4

typedef struct xfer {
  pf_call *call;
  const pf_cfg_tool *cfg;
  mloop *ml;
  CURL *easy;
  struct curl_slist *hdrs;
  pf_buf resp;
  size_t max;
  bool too_big, done;
  const char *method;
  const char *shown_url; /* the URL without the apikey query parameter */
  const char *secrets[MAX_SECRETS];
  size_t nsecrets;
  char errbuf[CURL_ERROR_SIZE];
} xfer;

/* Appends s[0..n) to out with every occurrence of a secret replaced. */
static void put_redacted(const xfer *x, pf_buf *out, const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t hit = 0;
    for (size_t k = 0; k < x->nsecrets && !hit; k++) {
      size_t sl = strlen(x->secrets[k]);
      if (sl && sl <= n - i && memcmp(s + i, x->secrets[k], sl) == 0)
        hit = sl;
    }
    if (hit) {
      pf_buf_puts(out, "[redacted]");
      i += hit;
    } else {
      pf_buf_putc(out, s[i++]);
    }
  }
}

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  xfer *x = ud;
  size_t len = size * n;
  if (len > x->max - x->resp.len) {
    x->too_big = true;
    return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
  }
  pf_buf_append(&x->resp, data, len);
  return x->resp.failed ? 0 : len;
}

static unsigned timeout_of(const pf_cfg_tool *cfg) {
  return cfg->timeout_ms ? cfg->timeout_ms : PF_HTTP_DEFAULT_TIMEOUT_MS;
}

/* The isError result of a failed transfer; returns the completion code. */
static int transfer_error(xfer *x, CURLcode res) {
  pf_call *c = x->call;
  pf_buf m = PF_BUF_INIT;
  int rc;
  pf_buf_printf(&m, "Tool '%s': %s ", c->name, x->method);
  put_redacted(x, &m, x->shown_url, strlen(x->shown_url));
  if (x->too_big || res == CURLE_FILESIZE_EXCEEDED) {
    pf_buf_printf(&m, ": the response is larger than max_response_bytes (%zu)", x->max);
    rc = -PF_ELIMIT;
  } else if (res == CURLE_OPERATION_TIMEDOUT) {
    pf_buf_printf(&m, " timed out after %u ms", timeout_of(x->cfg));
    rc = -PF_ETIMEDOUT;
  } else if (res == CURLE_TOO_MANY_REDIRECTS) {
    pf_buf_printf(&m, ": too many redirects (max_redirects: %u)", x->cfg->more->http->max_redirects);
    rc = -PF_EIO;
  } else {
    const char *why = x->errbuf[0] ? x->errbuf : pf__curl.curl_easy_strerror(res);
    pf_buf_puts(&m, " failed: ");
    put_redacted(x, &m, why, strlen(why));
    rc = -PF_EIO;
  }
  pf_result_error(c, "%s", pf_buf_cstr(&m));
  pf_buf_free(&m);
  return rc;
}

static void response_result(xfer *x, long status) {
  pf_call *c = x->call;
  const char *body = x->resp.data ? x->resp.data : "";
  size_t len = x->resp.len;
  if (status >= 400) {
    pf_buf m = PF_BUF_INIT;
    pf_buf_printf(&m, "HTTP %ld from %s ", status, x->method);
    put_redacted(x, &m, x->shown_url, strlen(x->shown_url));
    if (len) {
      size_t n = len < PF_HTTP_ERROR_EXCERPT ? len : PF_HTTP_ERROR_EXCERPT;
      /* never cut a UTF-8 sequence in two */
      while (n < len && n > 0 && ((unsigned char)body[n] & 0xC0) == 0x80)
        n--;
      pf_buf_putc(&m, '\n');
      put_redacted(x, &m, body, n);
      if (n < len)
        pf_buf_printf(&m, "\n[%zu more bytes]", len - n);
    }
    pf_result_text(c, m.data, m.len);
    c->is_error = true;
    pf_buf_free(&m);
    return;
  }
  pf_result_text(c, body, len);
  const pf_json *v = len ? pf_json_parse_copy(body, len, c->arena, NULL, NULL) : NULL;
  if (v && pf_json_typeof(v) == PF_JSON_OBJECT)
    pf_jw_value(pf_result_structured(c), v);
}

/* Completes the call: its result (none once cancelled), then frees the
 * transfer's resources. The multi may be destroyed after. */
static void finish(xfer *x, CURLcode res) {
  pf_call *c = x->call;
  mloop *ml = x->ml;
  x->done = true;
  int rc = 0;
  if (!pf_cancelled(c)) {
    long status = 0;
    if (res == CURLE_OK) {
      pf__curl.curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
      c->upstream_status = (int)status;
      response_result(x, status);
    } else {
      if (pf__curl.curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status)
        c->upstream_status = (int)status;
      rc = transfer_error(x, res);
    }
    pf_debug("http tool '%s': %s %s: %s, HTTP %ld", c->name, x->method, x->shown_url,
             pf__curl.curl_easy_strerror(res), status);
  }
  pf__curl.curl_easy_cleanup(x->easy);
  x->easy = NULL;
  pf__curl.curl_slist_free_all(x->hdrs);
  x->hdrs = NULL;
  pf_buf_free(&x->resp);
  ml->ntransfers--;
  pf__async_complete(c->async, rc); /* frees the arena x lives in */
}

static void check_done(mloop *ml) {
  CURLMsg *msg;
  int left;
  while (ml->multi && (msg = pf__curl.curl_multi_info_read(ml->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode res = msg->data.result;
    xfer *x = NULL;
    pf__curl.curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    pf__curl.curl_multi_remove_handle(ml->multi, easy);
    finish(x, res);
  }
  ml_maybe_destroy(ml);
}

static void on_cancel(void *ud) {
  xfer *x = ud;
  if (x->done)
    return;
  mloop *ml = x->ml;
  pf__curl.curl_multi_remove_handle(ml->multi, x->easy);
  finish(x, CURLE_ABORTED_BY_CALLBACK);
  ml_maybe_destroy(ml);
}

/* ---- building the request ---- */

static const pf_json *lookup_default(void *ud, const char *name, size_t len) {
  const pf__tool *t = ud;
  return pf_validator_default(t->input, name, len);
}

static int render(pf_call *c, const pf_tmpl *t, pf_tmpl_escape esc, pf_buf *out) {
  pf_tmpl_ctx ctx = {.values = c->args, .lookup = lookup_default, .ud = (void *)c->tool};
  return t ? pf_tmpl_render(t, &ctx, esc, out) : 0;
}

/* A scalar's text for the URL: strings as they are, others as JSON. */
static void put_query_value(pf_buf *out, const pf_json *v) {
  size_t n;
  const char *s = pf_json_str(v, &n);
  if (s) {
    pf__uri_pct_encode(out, s, n);
    return;
  }
  pf_buf tmp = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &tmp);
  pf_jw_value(&w, v);
  pf__uri_pct_encode(out, tmp.data ? tmp.data : "", tmp.len);
  pf_buf_free(&tmp);
}

static void put_param(pf_buf *url, const char *key, size_t klen) {
  pf_buf_putc(url, url->len && memchr(url->data, '?', url->len) ? '&' : '?');
  pf__uri_pct_encode(url, key, klen);
  pf_buf_putc(url, '=');
}

/* The query map: a value that is one {{var}} resolving to nothing (or
 * null) is left out, and to an array repeats the parameter. */
static int add_query(pf_call *c, const pf_cfg_tool *cfg, const pf__http *k, pf_buf *url) {
  pf_tmpl_ctx ctx = {.values = c->args, .lookup = lookup_default, .ud = (void *)c->tool};
  for (size_t i = 0; i < cfg->more->http->nquery; i++) {
    const char *key = cfg->more->http->query[i].key;
    if (pf_tmpl_is_single_var(k->query[i], NULL)) {
      const pf_json *v = pf_tmpl_single_value(k->query[i], &ctx);
      pf_json_type ty = pf_json_typeof(v);
      if (!v || ty == PF_JSON_NULL)
        continue;
      if (ty == PF_JSON_ARRAY) {
        for (size_t j = 0; j < pf_json_len(v); j++) {
          put_param(url, key, strlen(key));
          put_query_value(url, pf_json_at(v, j));
        }
        continue;
      }
    }
    /* the whole value is encoded, its literal text too */
    pf_buf v = PF_BUF_INIT;
    int rc = render(c, k->query[i], PF_TMPL_RAW, &v);
    put_param(url, key, strlen(key));
    pf__uri_pct_encode(url, v.data ? v.data : "", v.len);
    pf_buf_free(&v);
    if (rc)
      return rc;
  }
  return url->failed ? -PF_ENOMEM : 0;
}

static bool has_header(const pf_cfg_tool *cfg, const char *name) {
  for (size_t i = 0; i < cfg->more->http->nheaders; i++)
    if (strcasecmp(cfg->more->http->headers[i].key, name) == 0)
      return true;
  return false;
}

static int add_header(xfer *x, const char *name, const char *value, size_t vlen) {
  pf_buf h = PF_BUF_INIT;
  pf_buf_printf(&h, "%s: ", name);
  pf_buf_append(&h, value, vlen);
  struct curl_slist *l = h.failed ? NULL : pf__curl.curl_slist_append(x->hdrs, pf_buf_cstr(&h));
  pf_buf_free(&h);
  if (!l)
    return -PF_ENOMEM;
  x->hdrs = l;
  return 0;
}

/* A secret from the config or, for the *_env keys, from the environment
 * now. NULL (after an isError result naming the variable) when unset. */
static const char *secret(pf_call *c, const char *literal, const char *env) {
  if (!env)
    return literal ? literal : "";
  const char *v = getenv(env);
  if (!v || !*v)
    pf_result_error(c, "Tool '%s': auth: the environment variable %s is not set", c->name, env);
  return v && *v ? v : NULL;
}

static void add_secret(xfer *x, const char *s) {
  if (s && *s && x->nsecrets < MAX_SECRETS)
    x->secrets[x->nsecrets++] = s;
}

static void set_opts(xfer *x, const pf_cfg_tool *cfg, const char *url, const char *body,
                     size_t blen) {
  CURL *e = x->easy;
  pf__curl.curl_easy_setopt(e, CURLOPT_URL, url);
  pf__curl.curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
  pf__curl.curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  pf__curl.curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  pf__curl.curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  pf__curl.curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  pf__curl.curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_of(cfg));
  pf__curl.curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 */
  pf__curl.curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  pf__curl.curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  pf__curl.curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  pf__curl.curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  pf__curl.curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, cfg->more->http->follow_redirects ? 1L : 0L);
  pf__curl.curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)cfg->more->http->max_redirects);
  pf__curl.curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  pf__curl.curl_easy_setopt(e, CURLOPT_USERAGENT, "pforge/" PF_VERSION);
  pf__curl.curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
  if (strcmp(x->method, "GET") == 0) {
    pf__curl.curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    return;
  }
  if (strcmp(x->method, "POST") != 0)
    pf__curl.curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
  if (body || strcmp(x->method, "DELETE") != 0) {
    pf__curl.curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    pf__curl.curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
  }
}

/* The request is built in steps; each returns 0 or a negative pf_err,
 * having written the isError result itself for -PF_EINVAL (the caller
 * writes it for the others). */

/* The auth secret(s) of the call, also registered for redaction. */
static int get_secrets(xfer *x, const char **token, const char **password, const char **key) {
  pf_call *c = x->call;
  const pf_cfg_tool *cfg = x->cfg;
  const char *auth = cfg->more->http->auth_type ? cfg->more->http->auth_type : "";
  if (strcmp(auth, "bearer") == 0 &&
      !(*token = secret(c, cfg->more->http->auth_token, cfg->more->http->auth_token_env)))
    return -PF_EINVAL;
  if (strcmp(auth, "basic") == 0 &&
      !(*password = secret(c, cfg->more->http->auth_password, cfg->more->http->auth_password_env)))
    return -PF_EINVAL;
  if (strcmp(auth, "apikey") == 0 &&
      !(*key = secret(c, cfg->more->http->auth_key, cfg->more->http->auth_key_env)))
    return -PF_EINVAL;
  add_secret(x, *token);
  add_secret(x, *password);
  add_secret(x, *key);
  if (*password) {
    /* what an upstream echoing the Authorization header would show */
    pf_buf up = PF_BUF_INIT, b64 = PF_BUF_INIT;
    pf_buf_printf(&up, "%s:%s", cfg->more->http->auth_username ? cfg->more->http->auth_username : "",
                  *password);
    pf__base64_encode(&b64, up.data, up.len);
    if (up.data)
      memset(up.data, 0, up.len);
    pf_buf_free(&up);
    const char *enc = b64.failed ? NULL : pf_arena_strndup(c->arena, b64.data, b64.len);
    pf_buf_free(&b64);
    if (!enc)
      return -PF_ENOMEM;
    add_secret(x, enc);
  }
  return 0;
}

/* The full URL (*full) and the one shown in messages (x->shown_url:
 * without the apikey query parameter), in the call's arena. */
static int build_url(xfer *x, const pf__http *k, const char *key, const char **full) {
  pf_call *c = x->call;
  pf_buf url = PF_BUF_INIT;
  int rc = 0;
  if (k->base) {
    rc = render(c, k->base, PF_TMPL_RAW, &url);
    const char *u = url.data ? url.data : "";
    if (rc == 0 && strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
      pf_buf_free(&url);
      pf_result_error(c, "Tool '%s': the endpoint must start with http:// or https://", c->name);
      return -PF_EINVAL;
    }
  }
  if (rc == 0)
    rc = render(c, k->endpoint, PF_TMPL_URL, &url);
  if (rc == 0)
    rc = add_query(c, x->cfg, k, &url);
  if (rc == 0 && !(x->shown_url = pf_arena_strndup(c->arena, url.data ? url.data : "", url.len)))
    rc = -PF_ENOMEM;
  if (rc == 0 && key && x->cfg->more->http->auth_query) {
    put_param(&url, x->cfg->more->http->auth_query, strlen(x->cfg->more->http->auth_query));
    pf__uri_pct_encode(&url, key, strlen(key));
  }
  if (rc == 0 && (url.failed || !(*full = pf_arena_strndup(c->arena, url.data, url.len))))
    rc = -PF_ENOMEM;
  pf_buf_free(&url);
  return rc;
}

/* x->hdrs: the configured headers, then auth, then Content-Type. */
static int build_headers(xfer *x, const pf__http *k, const char *token, const char *key,
                         bool has_body) {
  pf_call *c = x->call;
  const pf_cfg_tool *cfg = x->cfg;
  int rc = 0;
  pf_buf v = PF_BUF_INIT;
  for (size_t i = 0; i < cfg->more->http->nheaders && rc == 0; i++) {
    pf_buf_reset(&v);
    if ((rc = render(c, k->headers[i], PF_TMPL_RAW, &v)) != 0)
      break;
    const char *s = v.data ? v.data : "";
    if (memchr(s, '\r', v.len) || memchr(s, '\n', v.len)) {
      pf_result_error(c, "Tool '%s': header %s: the value contains a line break", c->name,
                      cfg->more->http->headers[i].key);
      rc = -PF_EINVAL;
      break;
    }
    rc = add_header(x, cfg->more->http->headers[i].key, s, v.len);
  }
  pf_buf_free(&v);
  if (rc == 0 && token) {
    size_t tl = strlen(token);
    char *h = pf_arena_alloc(c->arena, tl + 8);
    if (!h)
      return -PF_ENOMEM;
    memcpy(h, "Bearer ", 7);
    memcpy(h + 7, token, tl + 1);
    rc = add_header(x, "Authorization", h, tl + 7);
    memset(h, 0, tl + 7); /* the list holds its own copy */
  }
  if (rc == 0 && key && !cfg->more->http->auth_query)
    rc = add_header(x, cfg->more->http->auth_header ? cfg->more->http->auth_header : PF_HTTP_APIKEY_HEADER, key,
                    strlen(key));
  if (rc == 0)
    rc = add_header(x, "Expect", "", 0); /* no 100-continue round trip */
  if (rc == 0 && has_body && !has_header(cfg, "Content-Type"))
    rc = add_header(x, "Content-Type", "application/json", 16);
  return rc;
}

/* The body (body_template, or the arguments), in the call's arena. */
static int build_body(xfer *x, const pf__http *k, char **out, size_t *len) {
  pf_call *c = x->call;
  pf_buf body = PF_BUF_INIT;
  int rc = 0;
  if (k->body) {
    pf_tmpl_ctx ctx = {.values = c->args, .lookup = lookup_default, .ud = (void *)c->tool};
    rc = pf_jtmpl_render(k->body, &ctx, &body);
  } else {
    pf_json_writer w;
    pf_jw_init(&w, &body);
    pf_jw_value(&w, c->args);
  }
  if (rc == 0 &&
      (body.failed || !(*out = pf_arena_strndup(c->arena, body.data ? body.data : "", body.len))))
    rc = -PF_ENOMEM;
  *len = body.len;
  pf_buf_free(&body);
  return rc;
}

static int http_start(pf_call *c, uv_loop_t *loop) {
  const pf__tool *t = c->tool;
  const pf_cfg_tool *cfg = t->cfg;
  const pf__http *k = t->rare->kind_data;
  xfer *x = pf_arena_alloc(c->arena, sizeof *x);
  if (!x) {
    pf_result_error(c, "Tool '%s' failed: out of memory", c->name);
    return -PF_ENOMEM;
  }
  memset(x, 0, sizeof *x);
  x->call = c;
  x->cfg = cfg;
  x->method = cfg->more->http->method ? cfg->more->http->method : "GET";
  x->max = cfg->more->http->max_response_bytes ? cfg->more->http->max_response_bytes : 10u * 1024 * 1024;
  x->resp = (pf_buf)PF_BUF_INIT;

  const char *token = NULL, *password = NULL, *key = NULL, *url = NULL;
  char *body = NULL;
  size_t blen = 0;
  bool has_body = k->body || k->args_body;
  int rc = get_secrets(x, &token, &password, &key);
  if (rc == 0)
    rc = build_url(x, k, key, &url);
  if (rc == 0)
    rc = build_headers(x, k, token, key, has_body);
  if (rc == 0 && has_body)
    rc = build_body(x, k, &body, &blen);
  if (rc == 0) {
    x->ml = ml_get(loop);
    x->easy = x->ml ? pf__curl.curl_easy_init() : NULL;
    if (!x->easy)
      rc = -PF_EIO;
  }
  if (rc == 0) {
    set_opts(x, cfg, url, body, blen);
    CURLSH *sh = thread_share();
    if (sh)
      pf__curl.curl_easy_setopt(x->easy, CURLOPT_SHARE, sh);
    if (password) {
      pf__curl.curl_easy_setopt(x->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
      pf__curl.curl_easy_setopt(x->easy, CURLOPT_USERNAME,
                                cfg->more->http->auth_username ? cfg->more->http->auth_username : "");
      pf__curl.curl_easy_setopt(x->easy, CURLOPT_PASSWORD, password);
    }
    if (pf__curl.curl_multi_add_handle(x->ml->multi, x->easy) != CURLM_OK)
      rc = -PF_EIO;
  }
  if (rc == 0) {
    x->ml->ntransfers++;
    pf__async_on_cancel(c->async, on_cancel, x);
    return 0; /* curl asked for a 0 ms timer: the transfer starts then, not within start */
  }
  pf__curl.curl_easy_cleanup(x->easy); /* NULL is fine */
  pf__curl.curl_slist_free_all(x->hdrs);
  if (x->ml)
    ml_maybe_destroy(x->ml);
  if (rc == -PF_ENOMEM)
    pf_result_error(c, "Tool '%s' failed: out of memory", c->name);
  else if (rc == -PF_EIO)
    pf_result_error(c, "Tool '%s' failed: cannot start an HTTP transfer", c->name);
  else if (rc != -PF_EINVAL)
    pf_result_error(c, "Tool '%s' failed: cannot build the request (%s)", c->name, pf_strerror(rc));
  return rc;
}
