/* resources/read, resources/subscribe, resources/unsubscribe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "json/internal.h"
#include "mcp/internal.h"
#include "template/template.h"
#include "template/uri.h"

#define MAX_FILE_RESOURCE ((size_t)64 * 1024 * 1024)

char *pf__resource_resolve(pf_server *srv, const char *path, size_t len) {
  const char *root = srv->root_real; /* resolved once, at load */
  char full[PATH_MAX], real[PATH_MAX];
  if (!root || len == 0 || len >= PATH_MAX || memchr(path, '\0', len))
    return NULL;
  int n = path[0] == '/' ? snprintf(full, sizeof full, "%.*s", (int)len, path)
                         : snprintf(full, sizeof full, "%s/%.*s", root, (int)len, path);
  if (n < 0 || (size_t)n >= sizeof full || !realpath(full, real))
    return NULL;
  /* after symlinks and "..": still inside the root? */
  size_t rl = strlen(root);
  if (rl > 1 && (strncmp(real, root, rl) != 0 || (real[rl] != '/' && real[rl] != '\0')))
    return NULL;
  size_t l = strlen(real);
  char *r = pf__malloc(l + 1);
  if (r)
    memcpy(r, real, l + 1);
  return r;
}

static bool texty(const char *mime) {
  if (!mime)
    return false;
  return strncmp(mime, "text/", 5) == 0 || strstr(mime, "json") || strstr(mime, "xml") ||
         strstr(mime, "yaml") || strstr(mime, "javascript") || strstr(mime, "toml");
}

static bool valid_utf8(const char *text, size_t n) {
  const unsigned char *p = (const unsigned char *)text, *end = p + n;
  while (p < end) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    int k = pf__utf8_check(p, end);
    if (k < 0)
      return false;
    p += k;
  }
  return true;
}

static void not_found(pf_buf *out, const pf_json *id, const char *uri, size_t len);

bool pf__resource_as_text(const char *mime, const char *data, size_t len) {
  return mime ? texty(mime) : valid_utf8(data, len);
}

/* Appends one contents entry for a file. Returns 0, or -1 after writing an
 * error response. */
static int file_entry(pf_buf *content, const char *uri, const char *mime, const char *path,
                      const pf_json *id, pf_buf *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0)
      close(fd);
    not_found(out, id, uri, strlen(uri));
    return -1;
  }
  if ((size_t)st.st_size > MAX_FILE_RESOURCE) {
    close(fd);
    pf__rpc_errorf(out, id, -32603, "Internal error: resource file is larger than %zu bytes",
                   MAX_FILE_RESOURCE);
    return -1;
  }
  pf_buf data = PF_BUF_INIT;
  if (pf_buf_reserve(&data, (size_t)st.st_size + 1) != 0) {
    close(fd);
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
    return -1;
  }
  ssize_t r;
  while ((r = read(fd, data.data + data.len, data.cap - data.len)) > 0) {
    data.len += (size_t)r;
    if (data.len == data.cap && pf_buf_reserve(&data, 65536) != 0)
      break;
  }
  close(fd);
  pf_json_writer w;
  pf_jw_init(&w, content);
  w.comma = content->len > 0;
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "uri");
  pf_jw_strz(&w, uri);
  if (mime) {
    PF_JW_KEY(&w, "mimeType");
    pf_jw_strz(&w, mime);
  }
  if (pf__resource_as_text(mime, data.data ? data.data : "", data.len)) {
    PF_JW_KEY(&w, "text");
    pf_jw_str(&w, data.data ? data.data : "", data.len);
  } else {
    PF_JW_KEY(&w, "blob");
    pf_buf_putc(content, '"');
    pf__base64_encode(content, data.data, data.len);
    pf_buf_putc(content, '"');
    w.comma = true;
  }
  pf_jw_obj_end(&w);
  pf_buf_free(&data);
  return 0;
}

static void contents_response(pf_buf *out, const pf_json *id, const pf_buf *content) {
  pf__rpc_head(out, id);
  static const char mid[] = "\"result\":{\"contents\":[";
  pf_buf_append(out, mid, sizeof mid - 1);
  pf_buf_append(out, content->data, content->len);
  pf_buf_append(out, "]}}\n", 4);
}

static void not_found(pf_buf *out, const pf_json *id, const char *uri, size_t len) {
  pf_buf data = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &data);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "uri");
  pf_jw_str(&w, uri, len);
  pf_jw_obj_end(&w);
  pf__rpc_error(out, id, -32002, "Resource not found", pf_buf_cstr(&data));
  pf_buf_free(&data);
}

/* Finds the resource for uri: a static one, else the first matching
 * template (its variables go to *vars as a JSON object). */
static const pf__resource *lookup(pf__session *s, const char *uri, size_t len,
                                  const pf_json **vars) {
  pf_server *srv = s->srv;
  *vars = pf__empty_object;
  long k = pf__registry_find(&srv->res_reg, uri, len);
  if (k >= 0)
    return atomic_load(&srv->resources[k].hidden) ? NULL : &srv->resources[k];
  for (size_t i = srv->nstatic; i < srv->nresources; i++) {
    const pf__resource *r = &srv->resources[i];
    if (atomic_load(&r->hidden))
      continue;
    size_t nv = pf_uritmpl_nvars(r->tmpl);
    const char **vals = pf_arena_alloc(pf__scratch_get()->arena, (nv + 1) * sizeof *vals);
    size_t *lens = pf_arena_alloc(pf__scratch_get()->arena, (nv + 1) * sizeof *lens);
    if (!vals || !lens)
      return NULL;
    if (!pf_uritmpl_match(r->tmpl, uri, len, pf__scratch_get()->arena, vals, lens))
      continue;
    pf_buf b = PF_BUF_INIT;
    pf_json_writer w;
    pf_jw_init(&w, &b);
    pf_jw_obj_begin(&w);
    for (size_t v = 0; v < nv; v++) {
      const char *name = pf_uritmpl_var(r->tmpl, v);
      pf_jw_key(&w, name, strlen(name));
      pf_jw_str(&w, vals[v], lens[v]);
    }
    pf_jw_obj_end(&w);
    const pf_json *obj =
        b.failed ? NULL : pf_json_parse_copy(b.data, b.len, pf__scratch_get()->arena, NULL, NULL);
    pf_buf_free(&b);
    if (obj)
      *vars = obj;
    return r;
  }
  return NULL;
}

void pf__m_resources_read(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out) {
  size_t len;
  const char *uri = pf_json_str(pf_json_get(params, "uri"), &len);
  if (!uri) {
    pf__rpc_error(out, id, -32602, "Invalid params: resources/read needs a uri", NULL);
    return;
  }
  const pf_json *vars;
  const pf__resource *r = lookup(s, uri, len, &vars);
  if (!r) {
    not_found(out, id, uri, len);
    return;
  }
  const pf_cfg_resource *c = r->cfg;
  pf_buf *content = &pf__scratch_get()->content;
  pf_buf_reset(content);
  if (r->fn) {
    pf_call call;
    pf__call_init(&call, s, NULL, vars, content, &pf__scratch_get()->structured, out,
                  pf__scratch_get()->arena, NULL);
    call.resource = true;
    call.name = pf_arena_strndup(pf__scratch_get()->arena, uri, len);
    call.mime_type = c->mime_type;
    int rc = r->fn(&call);
    if (rc < 0 || call.is_error || content->failed) {
      pf__rpc_errorf(out, id, -32603, "Internal error: the handler of resource %.*s failed%s%s",
                     (int)(len > 200 ? 200 : len), uri, rc < 0 ? ": " : "",
                     rc < 0 ? pf_strerror(rc) : "");
      return;
    }
    if (call.nblocks == 0) {
      not_found(out, id, uri, len);
      return;
    }
    contents_response(out, id, content);
    return;
  }
  char *uri_z = pf_arena_strndup(pf__scratch_get()->arena, uri, len);
  if (c->text) {
    /* inline text is for static resources only (the loader refuses it on
     * templates) */
    pf_json_writer w;
    pf_jw_init(&w, content);
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "uri");
    pf_jw_strz(&w, uri_z);
    if (c->mime_type) {
      PF_JW_KEY(&w, "mimeType");
      pf_jw_strz(&w, c->mime_type);
    }
    PF_JW_KEY(&w, "text");
    pf_jw_strz(&w, c->text);
    pf_jw_obj_end(&w);
    contents_response(out, id, content);
    return;
  }
  if (c->file) {
    char *owned = NULL;
    if (!c->uri_template) {
      /* resolved again: the file may have been replaced since the load by
       * a symlink that leads out of the root */
      owned =
          r->file_path ? pf__resource_resolve(s->srv, r->file_path, strlen(r->file_path)) : NULL;
    } else {
      /* {var} in the file path, each value a single path segment */
      pf_json_iter it = pf_json_iter_init(vars);
      const pf_json *k, *v;
      bool ok = true;
      while (pf_json_iter_next(&it, &k, &v)) {
        size_t vl;
        const char *vs = pf_json_str(v, &vl);
        if (!vs || memchr(vs, '/', vl) || (vl == 1 && vs[0] == '.') ||
            (vl == 2 && vs[0] == '.' && vs[1] == '.'))
          ok = false;
      }
      pf_buf p = PF_BUF_INIT;
      pf_tmpl_ctx ctx = {vars, NULL, NULL, true, NULL};
      if (ok && r->file_tmpl && pf_tmpl_render(r->file_tmpl, &ctx, PF_TMPL_RAW, &p) == 0)
        owned = pf__resource_resolve(s->srv, p.data, p.len);
      pf_buf_free(&p);
    }
    if (!owned) {
      not_found(out, id, uri, len);
      return;
    }
    int rc = file_entry(content, uri_z, c->mime_type, owned, id, out);
    pf__free(owned);
    if (rc == 0)
      contents_response(out, id, content);
    return;
  }
  not_found(out, id, uri, len);
}

static int subscribe_locked(pf__session *s, const char *uri, size_t len) {
  for (size_t i = 0; i < s->nsubs; i++)
    if (strlen(s->subs[i]) == len && memcmp(s->subs[i], uri, len) == 0)
      return 0;
  if (s->nsubs == s->capsubs) {
    size_t cap = s->capsubs ? s->capsubs * 2 : 8;
    char **n = pf__realloc(s->subs, cap * sizeof *n);
    if (!n)
      return -1;
    s->subs = n;
    s->capsubs = cap;
  }
  char *copy = pf__malloc(len + 1);
  if (!copy)
    return -1;
  memcpy(copy, uri, len);
  copy[len] = 0;
  s->subs[s->nsubs++] = copy;
  return 0;
}

void pf__m_resources_subscribe(pf__session *s, const pf_json *id, const pf_json *params,
                               pf_buf *out) {
  size_t len;
  const char *uri = pf_json_str(pf_json_get(params, "uri"), &len);
  if (!uri) {
    pf__rpc_error(out, id, -32602, "Invalid params: resources/subscribe needs a uri", NULL);
    return;
  }
  const pf_json *vars;
  const pf__resource *r = lookup(s, uri, len, &vars);
  if (!r) {
    not_found(out, id, uri, len);
    return;
  }
  if (!r->cfg->subscribe) {
    /* nothing would ever be sent for it: say so instead of accepting */
    pf__rpc_errorf(out, id, -32602,
                   "Invalid params: resource %.*s does not support subscriptions (its "
                   "`supports` list has no subscribe)",
                   (int)(len > 200 ? 200 : len), uri);
    return;
  }
  uv_mutex_lock(&s->lock);
  int rc = subscribe_locked(s, uri, len);
  uv_mutex_unlock(&s->lock);
  if (rc != 0)
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
  else
    pf__rpc_result_raw(out, id, "{}", 2);
}

void pf__m_resources_unsubscribe(pf__session *s, const pf_json *id, const pf_json *params,
                                 pf_buf *out) {
  size_t len;
  const char *uri = pf_json_str(pf_json_get(params, "uri"), &len);
  if (!uri) {
    pf__rpc_error(out, id, -32602, "Invalid params: resources/unsubscribe needs a uri", NULL);
    return;
  }
  uv_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->nsubs; i++)
    if (strlen(s->subs[i]) == len && memcmp(s->subs[i], uri, len) == 0) {
      pf__free(s->subs[i]);
      s->subs[i] = s->subs[--s->nsubs];
      break;
    }
  uv_mutex_unlock(&s->lock);
  pf__rpc_result_raw(out, id, "{}", 2);
}

/* ------------------------------------------------------------------ */
/* Updates to subscribers                                              */

void pf__server_resource_updated(pf_server *srv, const char *uri, size_t len) {
  pf_buf line = PF_BUF_INIT;
  uv_mutex_lock(&srv->sessions_lock);
  for (pf__session *s = srv->sessions; s; s = s->next) {
    bool subscribed = false;
    uv_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nsubs && !subscribed; i++)
      subscribed = strlen(s->subs[i]) == len && memcmp(s->subs[i], uri, len) == 0;
    subscribed = subscribed && !s->closed;
    uv_mutex_unlock(&s->lock);
    if (!subscribed || !s->route.emit)
      continue;
    if (!line.len) {
      pf_json_writer w;
      pf_jw_init(&w, &line);
      pf_jw_obj_begin(&w);
      PF_JW_KEY(&w, "jsonrpc");
      pf_jw_str(&w, "2.0", 3);
      PF_JW_KEY(&w, "method");
      pf_jw_strz(&w, "notifications/resources/updated");
      PF_JW_KEY(&w, "params");
      pf_jw_obj_begin(&w);
      PF_JW_KEY(&w, "uri");
      pf_jw_str(&w, uri, len);
      pf_jw_obj_end(&w);
      pf_jw_obj_end(&w);
      pf_buf_putc(&line, '\n');
      if (line.failed)
        break;
    }
    s->route.emit(s->route.ud, line.data, line.len, false);
  }
  uv_mutex_unlock(&srv->sessions_lock);
  pf_buf_free(&line);
}

/* A static file resource is watched through its directory, not through the
 * file: editors save by writing a temporary file and renaming it over the
 * old one, and a file can be deleted and created again; a watch on the file
 * follows the old inode and is never told of the new one. The directory's
 * events are filtered by the file's name and coalesced: the first one arms
 * a WATCH_COALESCE_MS timer and those that arrive before it fires are
 * covered by the one notification it sends (a write that truncates, then
 * writes, raises two). Every event is followed by a notification within
 * WATCH_COALESCE_MS, and a resource gets at most one per WATCH_COALESCE_MS. */
#define WATCH_COALESCE_MS 50

struct pf__watch {
  uv_fs_event_t dir;
  uv_timer_t coalesce;
  pf_server *srv;
  const pf__resource *r;
  const char *name; /* the file's name in its directory (in r->file_path) */
};

static void on_coalesced(uv_timer_t *t) {
  struct pf__watch *w = t->data;
  pf__server_resource_updated(w->srv, w->r->cfg->uri, strlen(w->r->cfg->uri));
}

static void on_dir_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  (void)events;
  struct pf__watch *w = h->data;
  /* a NULL name (platforms that do not report one) may be the file */
  if (status < 0 || (filename && strcmp(filename, w->name) != 0))
    return;
  if (!uv_is_active((uv_handle_t *)&w->coalesce))
    uv_timer_start(&w->coalesce, on_coalesced, WATCH_COALESCE_MS, 0);
}

int pf__server_watch(pf_server *srv, uv_loop_t *loop) {
  size_t n = 0;
  for (size_t i = 0; i < srv->nstatic; i++)
    n += srv->resources[i].file_path != NULL;
  if (!n)
    return 0;
  srv->watches = pf__malloc(n * sizeof *srv->watches);
  if (!srv->watches)
    return -PF_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < srv->nstatic; i++) {
    pf__resource *r = &srv->resources[i];
    if (!r->file_path)
      continue;
    /* file_path is a realpath: absolute, its last '/' ends the directory */
    const char *slash = strrchr(r->file_path, '/');
    char dir[PATH_MAX];
    size_t dl = slash && slash > r->file_path ? (size_t)(slash - r->file_path) : 1;
    if (!slash || dl >= sizeof dir) {
      rc = -PF_EIO;
      continue;
    }
    memcpy(dir, r->file_path, dl);
    dir[dl] = '\0';
    struct pf__watch *w = &srv->watches[srv->nwatches];
    if (uv_fs_event_init(loop, &w->dir) != 0) {
      rc = -PF_EIO;
      continue;
    }
    uv_timer_init(loop, &w->coalesce);
    w->dir.data = w->coalesce.data = w;
    w->srv = srv;
    w->r = r;
    w->name = slash + 1;
    /* both handles are closed by pf__server_unwatch, started or not (a
     * handle being closed must not be initialized again before the loop
     * has run its close) */
    srv->nwatches++;
    /* watching must not keep the server alive after stdin closes */
    uv_unref((uv_handle_t *)&w->dir);
    uv_unref((uv_handle_t *)&w->coalesce);
    if (uv_fs_event_start(&w->dir, on_dir_event, dir, 0) != 0)
      rc = -PF_EIO;
  }
  return rc;
}

void pf__server_unwatch(pf_server *srv) {
  /* the memory is freed with the server, after the loop ran the closes */
  for (size_t i = 0; i < srv->nwatches; i++) {
    uv_close((uv_handle_t *)&srv->watches[i].dir, NULL);
    uv_close((uv_handle_t *)&srv->watches[i].coalesce, NULL);
  }
  srv->nwatches = 0;
}
