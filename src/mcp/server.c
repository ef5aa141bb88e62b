/* Building a server from a config: handlers, schemas, templates, and the
 * pre-serialized list pages and initialize result. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/hash.h"
#include "base/log.h"
#include "mcp/internal.h"
#include "runtime/state.h"
#include "tools/cli.h"
#include "tools/http.h"
#include "tools/pipeline.h"
#include "schema/schema.h"
#include "schema/validator.h"
#include "template/template.h"
#include "template/uri.h"

static void diagf(pf_buf *diag, const pf_cfg_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diagf(pf_buf *diag, const pf_cfg_loc *loc, const char *fmt, ...) {
  if (!diag)
    return;
  if (loc && loc->file)
    pf_buf_printf(diag, "%s:%u:%u: ", loc->file, loc->line, loc->col);
  va_list ap;
  va_start(ap, fmt);
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pf_buf_puts(diag, msg);
  pf_buf_putc(diag, '\n');
}

/* ------------------------------------------------------------------ */
/* Handlers                                                            */

static void *find_symbol(pf_server *srv, const char *sym) {
  void *fn = srv->dl ? dlsym(srv->dl, sym) : NULL;
  if (!fn) {
    /* handlers linked into the executable: exported when they have default
     * visibility (PF_TOOL gives it) and it links with --export-dynamic */
    void *self = dlopen(NULL, RTLD_NOW);
    if (self) {
      fn = dlsym(self, sym);
      dlclose(self);
    }
  }
  return fn;
}

static int open_library(pf_server *srv, pf_buf *diag) {
  const char *lib = srv->cfg->forge.library;
  if (!lib)
    return 0;
  if (srv->cfg->no_handlers)
    return 0;
  srv->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!srv->dl) {
    diagf(diag, &srv->cfg->forge.loc, "forge.library: cannot load %s: %s", lib, dlerror());
    return -PF_ECONFIG;
  }
  const int *abi = dlsym(srv->dl, "pf_abi_version");
  if (abi && *abi > PF_ABI_VERSION) {
    diagf(diag, &srv->cfg->forge.loc,
          "forge.library: %s was built for pforge ABI %d; this pforge implements ABI %d", lib, *abi,
          PF_ABI_VERSION);
    return -PF_ECONFIG;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Pages                                                               */

typedef void (*item_fn)(pf_server *srv, size_t i, pf__proto v, pf_json_writer *w);
/* Whether item i is written the same for revision v as for v - 1. */
typedef bool (*same_fn)(pf_server *srv, size_t i, pf__proto v);

static void cursor(pf_buf *out, size_t page) {
  char raw[32];
  int n = snprintf(raw, sizeof raw, "pforge:%zu", page);
  pf_buf_putc(out, '"');
  pf__base64_encode(out, raw, (size_t)n);
  pf_buf_putc(out, '"');
}

static void free_pages(pf__pages *pages);

/* Builds the pages of a list of the items for which hidden(srv, i) is
 * false, and makes them current (the previous versions are freed when no
 * list request is reading them, else kept for a later rebuild).
 * same (may be NULL): a page whose items are all written the same as for
 * the previous revision is shared without being written again. */
static int build_pages(pf_server *srv, _Atomic(pf__pages *) *cur, const char *key, size_t total,
                       item_fn item, bool (*hidden)(pf_server *, size_t), same_fn same) {
  size_t per = srv->cfg->forge.page_size ? srv->cfg->forge.page_size : 100;
  pf__pages *pages = pf__malloc(sizeof *pages);
  size_t *idx = pf__malloc((total ? total : 1) * sizeof *idx);
  if (!pages || !idx) {
    pf__free(pages);
    pf__free(idx);
    return -PF_ENOMEM;
  }
  memset(pages, 0, sizeof *pages);
  size_t nitems = 0;
  for (size_t i = 0; i < total; i++)
    if (!hidden(srv, i))
      idx[nitems++] = i;
  int rc = 0;
  pages->npages = nitems ? (nitems + per - 1) / per : 1;
  for (int v = 0; v < PF_PROTO__COUNT; v++) {
    pages->pages[v] = pf__malloc(pages->npages * sizeof(pf__page));
    if (!pages->pages[v]) {
      rc = -PF_ENOMEM;
      goto done;
    }
    memset(pages->pages[v], 0, pages->npages * sizeof(pf__page));
    for (size_t p = 0; p < pages->npages; p++) {
      size_t first = p * per, count = nitems - first < per ? nitems - first : per;
      if (v > 0 && same) {
        size_t k = 0;
        while (k < count && same(srv, idx[first + k], (pf__proto)v))
          k++;
        if (k == count) {
          pages->pages[v][p] = pages->pages[v - 1][p];
          continue;
        }
      }
      pf_buf b = PF_BUF_INIT;
      /* room up front: the previous revision's text, or a guess per item
       * (growing by doubling copies a large page several times) */
      pf_buf_reserve(&b, v > 0 ? pages->pages[v - 1][p].len + 256 : 256 + count * 384);
      pf_json_writer w;
      pf_jw_init(&w, &b);
      pf_jw_obj_begin(&w);
      pf_jw_key(&w, key, strlen(key));
      pf_jw_arr_begin(&w);
      for (size_t i = p * per; i < nitems && i < (p + 1) * per; i++)
        item(srv, idx[i], (pf__proto)v, &w);
      pf_jw_arr_end(&w);
      if (p + 1 < pages->npages) {
        PF_JW_KEY(&w, "nextCursor");
        cursor(&b, p + 1);
        w.comma = true;
      }
      pf_jw_obj_end(&w);
      if (b.failed) {
        pf_buf_free(&b);
        rc = -PF_ENOMEM;
        goto done;
      }
      /* most revisions serialize a list identically: share the text */
      if (v > 0 && pages->pages[v - 1][p].len == b.len &&
          memcmp(pages->pages[v - 1][p].json, b.data, b.len) == 0) {
        pf_buf_free(&b);
        pages->pages[v][p] = pages->pages[v - 1][p];
        continue;
      }
      char *fit = pf__realloc(b.data, b.len ? b.len : 1); /* shrink to fit */
      pages->pages[v][p].json = fit ? fit : b.data;
      pages->pages[v][p].len = b.len;
    }
  }
done:
  pf__free(idx);
  if (rc) {
    free_pages(pages);
    return rc;
  }
  pf__pages *old = atomic_load(cur);
  pages->retired = old;
  atomic_store(cur, pages);
  /* A reader counts itself in page_readers before it loads a pages pointer
   * (both sequentially consistent): when the count is 0 after the store
   * above, a reader that is still to come loads the new pages, so no one
   * can be reading the old ones and their predecessors. */
  if (old && atomic_load(&srv->page_readers) == 0) {
    pages->retired = NULL;
    free_pages(old);
  }
  return 0;
}

static void free_pages(pf__pages *pages) {
  if (!pages)
    return;
  free_pages(pages->retired);
  /* texts first (a revision may share its predecessor's), then the arrays */
  for (int v = 0; v < PF_PROTO__COUNT; v++) {
    if (!pages->pages[v])
      continue;
    for (size_t p = 0; p < pages->npages; p++)
      if (v == 0 || !pages->pages[v - 1] || pages->pages[v][p].json != pages->pages[v - 1][p].json)
        pf__free(pages->pages[v][p].json);
  }
  for (int v = 0; v < PF_PROTO__COUNT; v++)
    pf__free(pages->pages[v]);
  pf__free(pages);
}

static bool tool_hidden(pf_server *srv, size_t i) { return atomic_load(&srv->tools[i].hidden); }
static bool resource_hidden(pf_server *srv, size_t i) {
  return atomic_load(&srv->resources[i].hidden);
}
static bool template_hidden(pf_server *srv, size_t i) {
  return atomic_load(&srv->resources[srv->nstatic + i].hidden);
}
static bool prompt_hidden(pf_server *srv, size_t i) { return atomic_load(&srv->prompts[i].hidden); }

static void raw_json(pf_json_writer *w, const char *key, const char *json) {
  if (!json)
    return;
  pf_jw_key(w, key, strlen(key));
  pf_jw_raw(w, json, strlen(json));
}

static void opt_str(pf_json_writer *w, const char *key, const char *s) {
  if (!s)
    return;
  pf_jw_key(w, key, strlen(key));
  pf_jw_strz(w, s);
}

static void tool_item(pf_server *srv, size_t i, pf__proto v, pf_json_writer *w) {
  const pf__tool *t = &srv->tools[i];
  const pf_cfg_tool *c = t->cfg;
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "name");
  pf_jw_strz(w, t->cfg->name);
  if (v >= PF_PROTO_2025_06_18)
    opt_str(w, "title", c->more->title);
  opt_str(w, "description", c->description);
  raw_json(w, "inputSchema", c->input_schema_json);
  if (v >= PF_PROTO_2025_06_18)
    raw_json(w, "outputSchema", c->more->output_schema_json);
  if (v >= PF_PROTO_2025_03_26 && (c->read_only_hint >= 0 || c->destructive_hint >= 0 ||
                                   c->idempotent_hint >= 0 || c->open_world_hint >= 0)) {
    PF_JW_KEY(w, "annotations");
    pf_jw_obj_begin(w);
    static const char *const names[] = {"readOnlyHint", "destructiveHint", "idempotentHint",
                                        "openWorldHint"};
    int8_t vals[] = {c->read_only_hint, c->destructive_hint, c->idempotent_hint,
                     c->open_world_hint};
    for (int k = 0; k < 4; k++)
      if (vals[k] >= 0) {
        pf_jw_key(w, names[k], strlen(names[k]));
        pf_jw_bool(w, vals[k] != 0);
      }
    pf_jw_obj_end(w);
  }
  if (v >= PF_PROTO_2025_11_25)
    raw_json(w, "icons", c->more->icons_json);
  pf_jw_obj_end(w);
}

/* tool_item() writes a tool the same for v as for v - 1 unless a field it
 * shows from v on is set. Keep in step with every `v >=` test above. */
static bool tool_same(pf_server *srv, size_t i, pf__proto v) {
  const pf_cfg_tool *c = srv->tools[i].cfg;
  switch (v) {
  case PF_PROTO_2025_03_26:
    return c->read_only_hint < 0 && c->destructive_hint < 0 && c->idempotent_hint < 0 &&
           c->open_world_hint < 0;
  case PF_PROTO_2025_06_18: return !c->more->title && !c->more->output_schema_json;
  case PF_PROTO_2025_11_25: return !c->more->icons_json;
  default: return false;
  }
}

/* A resources/list entry (uri) or a resources/templates/list entry
 * (uriTemplate): the same fields otherwise. */
static void resource_entry(const pf_cfg_resource *c, pf__proto v, pf_json_writer *w) {
  const char *id = c->uri_template ? c->uri_template : c->uri;
  pf_jw_obj_begin(w);
  if (c->uri_template)
    PF_JW_KEY(w, "uriTemplate");
  else
    PF_JW_KEY(w, "uri");
  pf_jw_strz(w, id);
  PF_JW_KEY(w, "name");
  pf_jw_strz(w, c->name ? c->name : id);
  if (v >= PF_PROTO_2025_06_18)
    opt_str(w, "title", c->title);
  opt_str(w, "description", c->description);
  opt_str(w, "mimeType", c->mime_type);
  if (v >= PF_PROTO_2025_11_25)
    raw_json(w, "icons", c->icons_json);
  pf_jw_obj_end(w);
}

static void resource_item(pf_server *srv, size_t i, pf__proto v, pf_json_writer *w) {
  resource_entry(srv->resources[i].cfg, v, w);
}

static void template_item(pf_server *srv, size_t i, pf__proto v, pf_json_writer *w) {
  resource_entry(srv->resources[srv->nstatic + i].cfg, v, w);
}

static void prompt_item(pf_server *srv, size_t i, pf__proto v, pf_json_writer *w) {
  const pf_cfg_prompt *c = srv->prompts[i].cfg;
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "name");
  pf_jw_strz(w, c->name);
  if (v >= PF_PROTO_2025_06_18)
    opt_str(w, "title", c->title);
  opt_str(w, "description", c->description);
  if (c->nargs) {
    PF_JW_KEY(w, "arguments");
    pf_jw_arr_begin(w);
    for (size_t a = 0; a < c->nargs; a++) {
      pf_jw_obj_begin(w);
      PF_JW_KEY(w, "name");
      pf_jw_strz(w, c->args[a].name);
      opt_str(w, "description", c->args[a].description);
      PF_JW_KEY(w, "required");
      pf_jw_bool(w, c->args[a].required);
      pf_jw_obj_end(w);
    }
    pf_jw_arr_end(w);
  }
  if (v >= PF_PROTO_2025_11_25)
    raw_json(w, "icons", c->icons_json);
  pf_jw_obj_end(w);
}

static int build_init(pf_server *srv) {
  const pf_config *cfg = srv->cfg;
  bool completions = srv->nprompts > 0 || srv->nresources > srv->nstatic;
  bool subscribe = false;
  for (size_t i = 0; i < srv->nresources; i++)
    subscribe |= srv->resources[i].cfg->subscribe;
  for (int v = 0; v < PF_PROTO__COUNT; v++) {
    pf_buf *b = &srv->init_rest[v];
    pf_json_writer w;
    pf_jw_init(&w, b);
    w.comma = true;
    PF_JW_KEY(&w, "capabilities");
    pf_jw_obj_begin(&w);
    /* listChanged: lists change when pf_set_enabled shows or hides an item */
    if (srv->ntools) {
      PF_JW_KEY(&w, "tools");
      pf_jw_raw(&w, "{\"listChanged\":true}", 20);
    }
    if (srv->nresources) {
      PF_JW_KEY(&w, "resources");
      pf_jw_obj_begin(&w);
      PF_JW_KEY(&w, "subscribe");
      pf_jw_bool(&w, subscribe);
      PF_JW_KEY(&w, "listChanged");
      pf_jw_bool(&w, true);
      pf_jw_obj_end(&w);
    }
    if (srv->nprompts) {
      PF_JW_KEY(&w, "prompts");
      pf_jw_raw(&w, "{\"listChanged\":true}", 20);
    }
    PF_JW_KEY(&w, "logging");
    pf_jw_raw(&w, "{}", 2);
    if (completions && v >= PF_PROTO_2025_03_26) {
      PF_JW_KEY(&w, "completions");
      pf_jw_raw(&w, "{}", 2);
    }
    pf_jw_obj_end(&w);
    PF_JW_KEY(&w, "serverInfo");
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "name");
    pf_jw_strz(&w, cfg->forge.name);
    PF_JW_KEY(&w, "version");
    pf_jw_strz(&w, cfg->forge.version);
    if (v >= PF_PROTO_2025_06_18)
      opt_str(&w, "title", cfg->forge.title);
    if (v >= PF_PROTO_2025_11_25) {
      opt_str(&w, "description", cfg->forge.description);
      raw_json(&w, "icons", cfg->forge.icons_json);
      opt_str(&w, "websiteUrl", cfg->forge.website_url);
    }
    pf_jw_obj_end(&w);
    opt_str(&w, "instructions", cfg->forge.instructions);
    if (b->failed)
      return -PF_ENOMEM;
  }
  return 0;
}

/* ------------------------------------------------------------------ */

const pf__tool_rare pf__tool_no_rare;

/* Why a name table could not be built (the config rejects duplicates
 * itself, so they are not expected here either). */
static void registry_diag(pf_buf *diag, const char *what, const char *names, int rc) {
  if (rc == -PF_EINVAL)
    diagf(diag, NULL, "%s: duplicate %s", what, names);
  else if (rc == -PF_ELIMIT)
    diagf(diag, NULL,
          "%s: the lookup table of the %s could not be built (no hash seed "
          "separated them; please report this set of names)",
          what, names);
}

pf__tool_rare *pf__tool_rare_mut(pf__tool *t) {
  if (t->rare != &pf__tool_no_rare)
    return (pf__tool_rare *)t->rare; /* the tool's own: allocated below */
  pf__tool_rare *r = pf__malloc(sizeof *r);
  if (r) {
    *r = (pf__tool_rare){0};
    t->rare = r;
  }
  return r;
}

/* The runtime side of a tool's resilience policy (src/runtime/middleware.h). */
static int build_policy(pf_server *srv, pf__tool *t) {
  const pf_cfg_tool *c = t->cfg;
  const pf_cfg_policy *p = c->policy;
  t->own_timeout = c->kind == PF_TOOL_CLI || c->kind == PF_TOOL_HTTP;
  /* With the redis store, a native handler may wait for Redis: unless the
   * tool says `blocking: false`, it runs on the thread pool, so that no
   * event loop ever waits for Redis. */
  bool redis = srv->cfg->state.present && srv->cfg->state.backend &&
               strcmp(srv->cfg->state.backend, "redis") == 0;
  t->blocking =
      c->kind == PF_TOOL_NATIVE && !c->async && (c->blocking || (redis && !c->blocking_set));
  if (c->kind == PF_TOOL_NATIVE && c->async) {
    /* runs on the event loop through the asynchronous call path, like a
     * loop kind: its requests to the client hold no thread */
    pf__tool_rare *r = pf__tool_rare_mut(t);
    if (!r)
      return -PF_ENOMEM;
    r->start = pf__native_async_start;
    t->loop = true;
  }
  if (c->more->fallback) {
    long fi = pf__registry_find(&srv->tool_reg, c->more->fallback, strlen(c->more->fallback));
    if (fi >= 0) {
      pf__tool_rare *r = pf__tool_rare_mut(t);
      if (!r)
        return -PF_ENOMEM;
      r->fallback = &srv->tools[fi];
    }
  }
  if (p->cb_failure_threshold) {
    pf__tool_rare *r = pf__tool_rare_mut(t);
    if (!r)
      return -PF_ENOMEM;
    r->breaker = pf__malloc(sizeof *r->breaker);
    if (!r->breaker || pf__breaker_init(r->breaker, p) != 0) {
      pf__free(r->breaker);
      r->breaker = NULL;
      return -PF_ENOMEM;
    }
  }
  if (p->max_concurrent) {
    pf__tool_rare *r = pf__tool_rare_mut(t);
    if (!r)
      return -PF_ENOMEM;
    r->bulkhead = pf__malloc(sizeof *r->bulkhead);
    uint32_t queued = p->queue_timeout_ms ? p->max_queued : 0; /* no wait, no queue */
    if (!r->bulkhead || pf__bulkhead_init(r->bulkhead, p->max_concurrent, queued) != 0) {
      pf__free(r->bulkhead);
      r->bulkhead = NULL;
      return -PF_ENOMEM;
    }
  }
  t->policied =
      t->rare->breaker || t->rare->bulkhead || t->rare->fallback || p->retry_max_attempts > 1;
  return 0;
}

/* Validators by schema text while the tools are built: tools with the same
 * schema (common: many tools taking {"query": string}) share one, and all
 * of them take their memory from the config's arena. */
typedef struct vcache_slot {
  const char *text; /* NULL: empty; the text outlives the build (config arena) */
  size_t len;
  pf_validator *v;
} vcache_slot;
typedef struct vcache {
  vcache_slot *slots; /* NULL: no sharing (still correct) */
  size_t mask;
} vcache;

/* The slot holding text[0..len), or the empty slot where it goes; NULL
 * without a table. */
static vcache_slot *vcache_find(const vcache *vc, const char *text, size_t len) {
  if (!vc->slots)
    return NULL;
  size_t i = (size_t)pf__hash(text, len, 0) & vc->mask;
  for (; vc->slots[i].text; i = (i + 1) & vc->mask)
    if (vc->slots[i].len == len && memcmp(vc->slots[i].text, text, len) == 0)
      break;
  return &vc->slots[i];
}

/* The kept text equal to text[0..len) of an earlier tool, or NULL. */
static const char *vcache_text(const vcache *vc, const char *text, size_t len) {
  vcache_slot *sl = vcache_find(vc, text, len);
  return sl ? sl->text : NULL;
}

static pf_validator *vcache_compile(vcache *vc, pf_arena *a, const char *text, size_t len,
                                    pf_buf *err) {
  vcache_slot *sl = vcache_find(vc, text, len);
  if (sl && sl->text)
    return pf_validator_ref(sl->v);
  pf_validator *v = pf_validator_compile_in(text, len, a, err);
  if (v && sl)
    *sl = (vcache_slot){text, len, v};
  return v;
}

static int build_tools_with(pf_server *srv, pf_buf *diag, vcache *vc, const char **names,
                            size_t *lens);

/* The validator cache and the registry's key arrays live only while the
 * tools are built. */
static int build_tools(pf_server *srv, pf_buf *diag) {
  size_t cap = 16, n = srv->cfg->ntools;
  while (cap < 4 * n)
    cap *= 2;
  vcache vc = {pf__malloc(cap * sizeof *vc.slots), cap - 1};
  if (vc.slots)
    memset(vc.slots, 0, cap * sizeof *vc.slots);
  const char **names = pf__malloc((n + 1) * sizeof *names);
  size_t *lens = pf__malloc((n + 1) * sizeof *lens);
  int rc = names && lens ? build_tools_with(srv, diag, &vc, names, lens) : -PF_ENOMEM;
  pf__free(vc.slots);
  pf__free(names);
  pf__free(lens);
  return rc;
}

static int build_tools_with(pf_server *srv, pf_buf *diag, vcache *vc, const char **names,
                            size_t *lens) {
  pf_config *cfg = srv->cfg;
  int rc = 0;
  srv->tools = pf__malloc((cfg->ntools ? cfg->ntools : 1) * sizeof *srv->tools);
  if (!srv->tools)
    return -PF_ENOMEM;
  srv->ntools = cfg->ntools; /* after: pf__server_destroy walks srv->tools */
  memset(srv->tools, 0, (cfg->ntools ? cfg->ntools : 1) * sizeof *srv->tools);
  for (size_t i = 0; i < cfg->ntools; i++)
    srv->tools[i].rare = &pf__tool_no_rare;
  for (size_t i = 0; i < cfg->ntools; i++) {
    const pf_cfg_tool *c = &cfg->tools[i];
    pf__tool *t = &srv->tools[i];
    t->cfg = c;
    names[i] = c->name;
    lens[i] = strlen(c->name); /* 1 to 64 bytes (the config checks) */
    if (c->kind == PF_TOOL_CLI || c->kind == PF_TOOL_HTTP) {
      pf_buf err = PF_BUF_INIT;
      int crc = c->kind == PF_TOOL_CLI ? pf__cli_prepare(&cfg->tools[i], t, cfg->arena, &err)
                                       : pf__http_prepare(&cfg->tools[i], t, cfg->arena, &err);
      if (crc == -PF_ENOMEM) {
        pf_buf_free(&err);
        return crc;
      }
      if (crc) {
        diagf(diag, &c->build->loc, "tools[%zu] '%s': %s", i, c->name, pf_buf_cstr(&err));
        rc = -PF_ECONFIG;
      }
      pf_buf_free(&err);
    } else if (c->kind == PF_TOOL_PIPELINE) {
      pf_buf err = PF_BUF_INIT;
      int prc = pf__pipeline_prepare(&cfg->tools[i], t, cfg->arena, &err);
      if (prc == -PF_ENOMEM) {
        pf_buf_free(&err);
        return prc;
      }
      if (prc) {
        /* one problem per line */
        const char *m = pf_buf_cstr(&err);
        while (*m) {
          const char *nl = strchr(m, '\n');
          size_t l = nl ? (size_t)(nl - m) : strlen(m);
          diagf(diag, &c->build->loc, "tools[%zu] '%s': %.*s", i, c->name, (int)l, m);
          m += l + (nl ? 1 : 0);
        }
        rc = -PF_ECONFIG;
      }
      pf_buf_free(&err);
    } else {
      t->fn = c->build->handler_symbol ? (pf_handler_fn)find_symbol(srv, c->build->handler_symbol)
                                       : NULL;
      if (!c->build->handler_symbol) {
        diagf(diag, &c->build->loc, "tools[%zu] '%s': a native tool needs handler.path", i,
              c->name);
        rc = -PF_ECONFIG;
      } else if (!t->fn && !cfg->no_handlers) {
        diagf(diag, &c->build->loc, "tools[%zu] '%s': handler '%s' not found (symbol '%s' in %s)",
              i, c->name, c->build->handler_path, c->build->handler_symbol,
              cfg->forge.library ? cfg->forge.library : "the pforge executable");
        rc = -PF_ECONFIG;
      }
    }
    pf_buf schema = PF_BUF_INIT, err = PF_BUF_INIT;
    if (c->input_schema_json)
      pf_buf_puts(&schema, c->input_schema_json);
    else
      pf_schema_from_params(c->build->params, c->build->nparams, &schema);
    if (schema.failed) {
      pf_buf_free(&schema);
      return -PF_ENOMEM;
    }
    /* tools with the same schema share its text (and its validator); the
     * text, generated or verbatim, is the tool's input_schema_json now */
    const char *text = vcache_text(vc, schema.data, schema.len);
    if (!text)
      text = pf_arena_strndup(cfg->arena, schema.data, schema.len);
    if (!text) {
      pf_buf_free(&schema);
      pf_buf_free(&err);
      return -PF_ENOMEM;
    }
    cfg->tools[i].input_schema_json = text;
    t->input = vcache_compile(vc, cfg->arena, text, schema.len, &err);
    if (!t->input) {
      diagf(diag, &c->build->loc, "tools[%zu] '%s': input schema: %s", i, c->name,
            pf_buf_cstr(&err));
      rc = -PF_ECONFIG;
    }
    pf_buf_free(&schema);
    if (c->more->output_schema_json) {
      pf_buf_reset(&err);
      pf__tool_rare *rare = pf__tool_rare_mut(t);
      if (!rare) {
        pf_buf_free(&err);
        return -PF_ENOMEM;
      }
      rare->output = vcache_compile(vc, cfg->arena, c->more->output_schema_json,
                                    strlen(c->more->output_schema_json), &err);
      if (!rare->output) {
        diagf(diag, &c->build->loc, "tools[%zu] '%s': output schema: %s", i, c->name,
              pf_buf_cstr(&err));
        rc = -PF_ECONFIG;
      }
    }
    pf_buf_free(&err);
  }
  if (rc)
    return rc;
  rc = pf__registry_build(&srv->tool_reg, names, lens, cfg->ntools);
  if (rc) {
    registry_diag(diag, "tools", "tool names", rc);
    return rc;
  }
  for (size_t i = 0; i < srv->ntools; i++) {
    atomic_init(&srv->tools[i].hidden, srv->tools[i].cfg->disabled);
    if (srv->tools[i].cfg->kind == PF_TOOL_PIPELINE)
      pf__pipeline_link(&srv->tools[i], srv->tools, &srv->tool_reg);
    rc = build_policy(srv, &srv->tools[i]);
    if (rc)
      return rc;
  }
  return build_pages(srv, &srv->tools_pages, "tools", srv->ntools, tool_item, tool_hidden,
                     tool_same);
}

static int build_resources(pf_server *srv, pf_buf *diag) {
  pf_config *cfg = srv->cfg;
  int rc = 0;
  size_t n = cfg->nresources;
  srv->resources = pf__malloc((n ? n : 1) * sizeof *srv->resources);
  const char **names = pf_arena_alloc(cfg->arena, (n + 1) * sizeof *names);
  size_t *lens = pf_arena_alloc(cfg->arena, (n + 1) * sizeof *lens);
  if (!srv->resources || !names || !lens)
    return -PF_ENOMEM;
  memset(srv->resources, 0, (n ? n : 1) * sizeof *srv->resources);
  const char *root = cfg->forge.resources_root ? cfg->forge.resources_root : cfg->dir;
  char rootreal[PATH_MAX];
  if (root && realpath(root, rootreal)) {
    srv->root_real = pf__malloc(strlen(rootreal) + 1);
    if (!srv->root_real)
      return -PF_ENOMEM;
    strcpy(srv->root_real, rootreal);
  }
  /* static resources first (they are listed and looked up by URI), then
   * templates (matched in declaration order) */
  size_t k = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      const pf_cfg_resource *c = &cfg->resources[i];
      if ((c->uri_template != NULL) != (pass == 1))
        continue;
      pf__resource *r = &srv->resources[k++];
      r->cfg = c;
      if (c->handler_symbol) {
        r->fn = (pf_handler_fn)find_symbol(srv, c->handler_symbol);
        if (!r->fn && !cfg->no_handlers) {
          diagf(diag, &c->loc, "resources[%zu]: handler '%s' not found (symbol '%s')", i,
                c->handler_path, c->handler_symbol);
          rc = -PF_ECONFIG;
        }
      }
      if (c->uri_template) {
        pf_buf err = PF_BUF_INIT;
        r->tmpl = pf_uritmpl_compile(c->uri_template, strlen(c->uri_template), &err);
        if (!r->tmpl) {
          diagf(diag, &c->loc, "resources[%zu]: uri_template: %s", i, pf_buf_cstr(&err));
          rc = -PF_ECONFIG;
        }
        if (c->file) {
          /* the path uses the URI template's {var}: compile it once as a
           * text template, {var} -> {{var}} */
          pf_buf tt = PF_BUF_INIT;
          for (const char *q = c->file; *q; q++) {
            if (*q == '{')
              pf_buf_append(&tt, "{{", 2);
            else if (*q == '}')
              pf_buf_append(&tt, "}}", 2);
            else
              pf_buf_putc(&tt, *q);
          }
          pf_buf_reset(&err);
          r->file_tmpl = tt.failed ? NULL : pf_tmpl_compile(tt.data, tt.len, &err);
          if (!r->file_tmpl) {
            diagf(diag, &c->loc, "resources[%zu]: file: %s", i,
                  tt.failed ? "out of memory" : pf_buf_cstr(&err));
            rc = -PF_ECONFIG;
          }
          pf_buf_free(&tt);
        }
        pf_buf_free(&err);
      } else {
        names[srv->nstatic] = c->uri;
        lens[srv->nstatic] = strlen(c->uri);
        srv->nstatic++;
        if (c->file) {
          r->file_path = pf__resource_resolve(srv, c->file, strlen(c->file));
          if (!r->file_path && !cfg->no_handlers) {
            diagf(diag, &c->loc,
                  "resources[%zu]: file '%s' is missing or outside the resource root %s", i,
                  c->file, root ? root : "(none)");
            rc = -PF_ECONFIG;
          }
        }
      }
    }
  }
  srv->nresources = n;
  if (rc)
    return rc;
  rc = pf__registry_build(&srv->res_reg, names, lens, srv->nstatic);
  if (rc) {
    registry_diag(diag, "resources", "URIs", rc);
    return rc;
  }
  for (size_t i = 0; i < n; i++)
    atomic_init(&srv->resources[i].hidden, srv->resources[i].cfg->disabled);
  rc = build_pages(srv, &srv->resources_pages, "resources", srv->nstatic, resource_item,
                   resource_hidden, NULL);
  if (!rc)
    rc = build_pages(srv, &srv->templates_pages, "resourceTemplates", n - srv->nstatic,
                     template_item, template_hidden, NULL);
  return rc;
}

static int build_prompts(pf_server *srv, pf_buf *diag) {
  pf_config *cfg = srv->cfg;
  int rc = 0;
  size_t n = cfg->nprompts;
  srv->nprompts = n;
  srv->prompts = pf__malloc((n ? n : 1) * sizeof *srv->prompts);
  const char **names = pf_arena_alloc(cfg->arena, (n + 1) * sizeof *names);
  size_t *lens = pf_arena_alloc(cfg->arena, (n + 1) * sizeof *lens);
  if (!srv->prompts || !names || !lens)
    return -PF_ENOMEM;
  memset(srv->prompts, 0, (n ? n : 1) * sizeof *srv->prompts);
  for (size_t i = 0; i < n; i++) {
    const pf_cfg_prompt *c = &cfg->prompts[i];
    pf__prompt *p = &srv->prompts[i];
    p->cfg = c;
    names[i] = c->name;
    lens[i] = strlen(c->name);
    size_t nt = c->template_text ? 1 : c->nmessages;
    p->tmpls = pf__malloc((nt ? nt : 1) * sizeof *p->tmpls);
    if (!p->tmpls)
      return -PF_ENOMEM;
    memset(p->tmpls, 0, (nt ? nt : 1) * sizeof *p->tmpls);
    p->ntmpls = nt;
    for (size_t m = 0; m < nt; m++) {
      const char *text = c->template_text      ? c->template_text
                         : c->messages[m].text ? c->messages[m].text
                                               : c->messages[m].data;
      if (!text)
        continue;
      pf_buf err = PF_BUF_INIT;
      p->tmpls[m] = pf_tmpl_compile(text, strlen(text), &err);
      if (!p->tmpls[m]) {
        diagf(diag, c->template_text ? &c->loc : &c->messages[m].loc,
              "prompts[%zu] '%s': template: %s", i, c->name, pf_buf_cstr(&err));
        rc = -PF_ECONFIG;
      }
      pf_buf_free(&err);
    }
  }
  if (rc)
    return rc;
  rc = pf__registry_build(&srv->prompt_reg, names, lens, n);
  if (rc)
    registry_diag(diag, "prompts", "prompt names", rc);
  for (size_t i = 0; i < n; i++)
    atomic_init(&srv->prompts[i].hidden, srv->prompts[i].cfg->disabled);
  if (!rc)
    rc = build_pages(srv, &srv->prompts_pages, "prompts", n, prompt_item, prompt_hidden, NULL);
  return rc;
}

int pf__server_create(pf_config *cfg, pf_server **out, pf_buf *diag) {
  *out = NULL;
  pf_server *srv = pf__malloc(sizeof *srv);
  if (!srv) {
    pf_config_free(cfg);
    return -PF_ENOMEM;
  }
  memset(srv, 0, sizeof *srv);
  pf__registry_init(&srv->tool_reg); /* lookups before (or after a failed) build: -1 */
  pf__registry_init(&srv->res_reg);
  pf__registry_init(&srv->prompt_reg);
  static _Atomic uint64_t uids;
  srv->uid = atomic_fetch_add(&uids, 1) + 1;
  srv->cfg = cfg;
  srv->max_message = PF_MAX_MESSAGE_DEFAULT;
  srv->client_timeout_ms =
      cfg->forge.http.call_timeout_ms ? cfg->forge.http.call_timeout_ms : 60000;
  if (uv_mutex_init(&srv->sessions_lock) != 0) {
    pf_config_free(cfg);
    pf__free(srv);
    return -PF_ENOMEM;
  }
  if (uv_mutex_init(&srv->pages_lock) != 0) {
    uv_mutex_destroy(&srv->sessions_lock);
    pf_config_free(cfg);
    pf__free(srv);
    return -PF_ENOMEM;
  }
  int rc = open_library(srv, diag);
  /* report every problem: build all parts even when one fails */
  int r2 = build_tools(srv, diag);
  int r3 = build_resources(srv, diag);
  int r4 = build_prompts(srv, diag);
  if (!rc)
    rc = r2 ? r2 : r3 ? r3 : r4;
  if (!rc)
    rc = build_init(srv);
  if (!rc && !cfg->no_store) /* validate creates no store */
    rc = pf__state_open(&cfg->state, &srv->state, diag);
  if (rc) {
    pf__server_destroy(srv);
    return rc;
  }
  pf__config_drop_params(cfg); /* built: the schemas are text and validators now */
  *out = srv;
  return 0;
}

void pf__server_destroy(pf_server *srv) {
  if (!srv)
    return;
  pf__state_close(srv->state);
  for (size_t i = 0; i < srv->ntools; i++) {
    pf_validator_free(srv->tools[i].input);
    pf__stats_free(&srv->tools[i].stats);
    if (srv->tools[i].cfg && srv->tools[i].cfg->kind == PF_TOOL_CLI)
      pf__cli_free(&srv->tools[i]);
    else if (srv->tools[i].cfg && srv->tools[i].cfg->kind == PF_TOOL_HTTP)
      pf__http_free(&srv->tools[i]);
    if (srv->tools[i].cfg && srv->tools[i].cfg->kind == PF_TOOL_PIPELINE)
      pf__pipeline_free(&srv->tools[i]);
    const pf__tool_rare *r = srv->tools[i].rare;
    if (r != &pf__tool_no_rare) {
      pf_validator_free(r->output);
      if (r->breaker)
        pf__breaker_destroy(r->breaker);
      if (r->bulkhead)
        pf__bulkhead_destroy(r->bulkhead);
      pf__free(r->breaker);
      pf__free(r->bulkhead);
      pf__free((void *)r); /* the tool's own (pf__tool_rare_mut) */
    }
  }
  pf__free(srv->tools);
  for (size_t i = 0; i < srv->nresources; i++) {
    pf_uritmpl_free(srv->resources[i].tmpl);
    pf_tmpl_free(srv->resources[i].file_tmpl);
    pf__free(srv->resources[i].file_path);
  }
  pf__free(srv->resources);
  pf__free(srv->watches);
  pf__free(srv->root_real);
  for (size_t i = 0; i < srv->nprompts; i++) {
    for (size_t m = 0; m < srv->prompts[i].ntmpls; m++)
      pf_tmpl_free(srv->prompts[i].tmpls[m]);
    pf__free(srv->prompts[i].tmpls);
  }
  pf__free(srv->prompts);
  pf__registry_free(&srv->tool_reg);
  pf__registry_free(&srv->res_reg);
  pf__registry_free(&srv->prompt_reg);
  free_pages(atomic_load(&srv->tools_pages));
  free_pages(atomic_load(&srv->resources_pages));
  free_pages(atomic_load(&srv->templates_pages));
  free_pages(atomic_load(&srv->prompts_pages));
  uv_mutex_destroy(&srv->pages_lock);
  for (int v = 0; v < PF_PROTO__COUNT; v++)
    pf_buf_free(&srv->init_rest[v]);
  if (srv->dl)
    dlclose(srv->dl);
  pf_config_free(srv->cfg);
  uv_mutex_destroy(&srv->sessions_lock);
  pf__scratch_release();
  pf__free(srv);
}

/* ------------------------------------------------------------------ */
/* Showing and hiding items at run time                                */

static void list_changed(pf_server *srv, const char *method) {
  char line[128];
  int n = snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"method\":\"%s\"}\n", method);
  uv_mutex_lock(&srv->sessions_lock);
  for (pf__session *s = srv->sessions; s; s = s->next)
    if (atomic_load(&s->state) == 2 && !s->stateless && s->route.emit)
      s->route.emit(s->route.ud, line, (size_t)n, false);
  uv_mutex_unlock(&srv->sessions_lock);
}

static bool flip(_Atomic bool *hidden, bool enabled) {
  bool want = !enabled;
  return atomic_exchange(hidden, want) != want;
}

int pf__server_set_enabled(pf_server *srv, const char *kind, const char *name, bool enabled) {
  if (!kind || !name)
    return -PF_EINVAL;
  size_t len = strlen(name);
  int rc = 0;
  uv_mutex_lock(&srv->pages_lock);
  if (strcmp(kind, "tool") == 0) {
    long i = pf__registry_find(&srv->tool_reg, name, len);
    if (i < 0) {
      rc = -PF_EINVAL;
    } else if (flip(&srv->tools[i].hidden, enabled)) {
      rc = build_pages(srv, &srv->tools_pages, "tools", srv->ntools, tool_item, tool_hidden,
                       tool_same);
      if (!rc)
        list_changed(srv, "notifications/tools/list_changed");
    }
  } else if (strcmp(kind, "prompt") == 0) {
    long i = pf__registry_find(&srv->prompt_reg, name, len);
    if (i < 0) {
      rc = -PF_EINVAL;
    } else if (flip(&srv->prompts[i].hidden, enabled)) {
      rc = build_pages(srv, &srv->prompts_pages, "prompts", srv->nprompts, prompt_item,
                       prompt_hidden, NULL);
      if (!rc)
        list_changed(srv, "notifications/prompts/list_changed");
    }
  } else if (strcmp(kind, "resource") == 0) {
    size_t i = 0;
    for (; i < srv->nresources; i++) {
      const pf_cfg_resource *c = srv->resources[i].cfg;
      const char *u = c->uri ? c->uri : c->uri_template;
      if (u && strcmp(u, name) == 0)
        break;
    }
    if (i == srv->nresources) {
      rc = -PF_EINVAL;
    } else if (flip(&srv->resources[i].hidden, enabled)) {
      rc = i < srv->nstatic
               ? build_pages(srv, &srv->resources_pages, "resources", srv->nstatic, resource_item,
                             resource_hidden, NULL)
               : build_pages(srv, &srv->templates_pages, "resourceTemplates",
                             srv->nresources - srv->nstatic, template_item, template_hidden, NULL);
      if (!rc)
        list_changed(srv, "notifications/resources/list_changed");
    }
  } else {
    rc = -PF_EINVAL;
  }
  uv_mutex_unlock(&srv->pages_lock);
  return rc;
}
