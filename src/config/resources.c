/* `resources:`.
 *
 * A resource is a static `uri` or an RFC 6570 level-1 `uri_template`.
 * Content comes from exactly one of `text`, `file` or `handler.path`:
 *   - a static uri takes any of the three; with none, a `file://` uri
 *     names its own file (the original pforge's production example);
 *   - a template takes `file` (which may use the template's {variables}) or
 *     `handler`, never `text`, since fixed text cannot vary with the uri.
 * `file` is relative to forge.resources_root and may not climb out of it. */
#include "config/internal.h"

#include <string.h>

enum {
  R_URI,
  R_URI_TEMPLATE,
  R_NAME,
  R_TITLE,
  R_DESCRIPTION,
  R_MIME_TYPE,
  R_TEXT,
  R_FILE,
  R_HANDLER,
  R_SUPPORTS,
  R_COMPLETIONS,
  R_ICONS,
  R_ENABLED,
  R__N
};

static const pf__cfg_key resource_keys[] = {
    {R_URI, "uri", NULL, PF__T_STR, false},
    {R_URI_TEMPLATE, "uri_template", "uriTemplate", PF__T_STR, false},
    {R_NAME, "name", NULL, PF__T_STR, false},
    {R_TITLE, "title", NULL, PF__T_STR, false},
    {R_DESCRIPTION, "description", NULL, PF__T_STR, false},
    {R_MIME_TYPE, "mime_type", "mimeType", PF__T_STR, false},
    {R_TEXT, "text", NULL, PF__T_STR, false},
    {R_FILE, "file", NULL, PF__T_STR, false},
    {R_HANDLER, "handler", NULL, PF__T_MAP, false},
    {R_SUPPORTS, "supports", NULL, PF__T_LIST, false},
    {R_COMPLETIONS, "completions", NULL, PF__T_MAP, false},
    {R_ICONS, "icons", NULL, PF__T_LIST, false},
    {R_ENABLED, "enabled", NULL, PF__T_BOOL, false},
};

#define MAX_VARS 32

/* Collects the {names} of a level-1 template; false on bad syntax. */
static bool template_vars(const char *s, const char **vars, size_t *lens, size_t *nvars,
                          const char **why) {
  *nvars = 0;
  for (const char *p = s; *p; p++) {
    if (*p == '}') {
      *why = "'}' without '{'";
      return false;
    }
    if (*p != '{')
      continue;
    const char *start = ++p;
    while (*p && *p != '}' && *p != '{')
      p++;
    if (*p != '}') {
      *why = "unclosed '{'";
      return false;
    }
    if (p == start) {
      *why = "empty '{}'";
      return false;
    }
    for (const char *q = start; q < p; q++)
      if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
            *q == '_')) {
        *why = "variable names use A-Z a-z 0-9 _ only (RFC 6570 level 1)";
        return false;
      }
    if (*nvars < MAX_VARS) {
      vars[*nvars] = start;
      lens[*nvars] = (size_t)(p - start);
      (*nvars)++;
    }
  }
  return true;
}

static bool has_var(const char *const *vars, const size_t *lens, size_t n, const char *name,
                    size_t len) {
  for (size_t i = 0; i < n; i++)
    if (lens[i] == len && memcmp(vars[i], name, len) == 0)
      return true;
  return false;
}

static bool safe_relative(const char *f) {
  if (f[0] == '/')
    return false;
  for (const char *p = f; *p;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return false;
    if (!e)
      break;
    p = e + 1;
  }
  return true;
}

static void parse_resource(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_resource *r) {
  static const char *const ops[] = {"read", "write", "subscribe"};
  r->loc = v->loc;
  pf__cfg_val k[R__N];
  if (!pf__cfg_map(c, v, resource_keys, PF__NELEM(resource_keys), k, R__N, NULL, NULL))
    return;
  r->uri = pf__cfg_str(c, &k[R_URI]);
  r->uri_template = pf__cfg_str(c, &k[R_URI_TEMPLATE]);
  if (k[R_URI].key && k[R_URI_TEMPLATE].key)
    pf__cfg_err(c, k[R_URI_TEMPLATE].key_loc, v->path,
                "give either 'uri' or 'uri_template', not both");
  else if (!k[R_URI].key && !k[R_URI_TEMPLATE].key)
    pf__cfg_err(c, v->loc, v->path, "missing required key 'uri' (or 'uri_template')");
  if (k[R_URI].present)
    r->loc = k[R_URI].loc;
  else if (k[R_URI_TEMPLATE].present)
    r->loc = k[R_URI_TEMPLATE].loc;

  const char *vars[MAX_VARS];
  size_t lens[MAX_VARS], nvars = 0;
  const char *why = NULL;
  if (r->uri_template && !template_vars(r->uri_template, vars, lens, &nvars, &why))
    pf__cfg_err(c, k[R_URI_TEMPLATE].loc, k[R_URI_TEMPLATE].path, "invalid uri template: %s", why);
  else if (r->uri_template && nvars == 0)
    pf__cfg_err(c, k[R_URI_TEMPLATE].loc, k[R_URI_TEMPLATE].path,
                "a uri template needs at least one {variable} (use 'uri' for a fixed uri)");

  r->name = pf__cfg_str(c, &k[R_NAME]);
  if (!r->name)
    r->name = r->uri ? r->uri : r->uri_template;
  r->title = pf__cfg_str(c, &k[R_TITLE]);
  r->description = pf__cfg_str(c, &k[R_DESCRIPTION]);
  r->mime_type = pf__cfg_str(c, &k[R_MIME_TYPE]);
  r->text = pf__cfg_str(c, &k[R_TEXT]);
  r->file = pf__cfg_str(c, &k[R_FILE]);
  if (k[R_HANDLER].present)
    pf__cfg_handler(c, &k[R_HANDLER], &r->handler_path, &r->handler_symbol);

  int nsrc = !!k[R_TEXT].key + !!k[R_FILE].key + !!k[R_HANDLER].key;
  if (nsrc > 1) {
    pf__cfg_err(c, v->loc, v->path, "give only one of 'text', 'file' and 'handler'");
  } else if (k[R_URI_TEMPLATE].key) {
    if (k[R_TEXT].key)
      pf__cfg_err(c, k[R_TEXT].key_loc, v->path,
                  "'text' needs a fixed 'uri'; a template takes 'file' or 'handler'");
    else if (nsrc == 0)
      pf__cfg_err(c, v->loc, v->path, "a resource template needs 'file' or 'handler'");
  } else if (nsrc == 0 && r->uri) {
    if (strncmp(r->uri, "file://", 7) == 0 && r->uri[7])
      r->file = r->uri + 7;
    else if (k[R_URI].present)
      pf__cfg_err(c, v->loc, v->path, "a resource needs 'text', 'file' or 'handler'");
  }
  if (r->file) {
    const pf__cfg_val *fv = k[R_FILE].present ? &k[R_FILE] : &k[R_URI];
    if (!safe_relative(r->file))
      pf__cfg_err(c, fv->loc, fv->path,
                  "'%s' must be a relative path inside resources_root (no '/' start, no '..')",
                  r->file);
    const char *fvars[MAX_VARS];
    size_t flens[MAX_VARS], nf = 0;
    if (k[R_FILE].present && !template_vars(r->file, fvars, flens, &nf, &why)) {
      pf__cfg_err(c, fv->loc, fv->path, "invalid file template: %s", why);
    } else {
      for (size_t i = 0; i < nf; i++)
        if (!has_var(vars, lens, nvars, fvars[i], flens[i]))
          pf__cfg_err(c, fv->loc, fv->path, "{%.*s} is not a variable of the uri template",
                      (int)flens[i], fvars[i]);
    }
  }

  if (k[R_SUPPORTS].present) {
    size_t i = 0;
    for (pf__ynode *item = pf__y_items(k[R_SUPPORTS].node); item; item = item->next) {
      pf__cfg_val iv = pf__cfg_item(c, &k[R_SUPPORTS], item, i++);
      if (pf__cfg_enum(c, &iv, ops, 3, false) == 2)
        r->subscribe = true;
    }
  }

  pf__cfg_val *cv = &k[R_COMPLETIONS];
  size_t nc = pf__cfg_count(cv);
  if (cv->present && nc && !r->uri_template) {
    pf__cfg_err(c, cv->key_loc, cv->path, "completions need a 'uri_template'");
  } else if (cv->present && nc) {
    r->completion_vars = pf_arena_calloc(c->a, nc, sizeof(char *));
    r->completions = pf_arena_calloc(c->a, nc, sizeof(char *));
    if (!r->completion_vars || !r->completions) {
      c->oom = true;
      return;
    }
    for (const pf__ynode *kn = pf__y_keys(cv->node); kn; kn = kn->next) {
      pf__cfg_val e = pf__cfg_entry(c, cv, kn);
      if (!has_var(vars, lens, nvars, e.key, strlen(e.key))) {
        pf__cfg_err(c, e.key_loc, cv->path, "'%s' is not a variable of the uri template", e.key);
        continue;
      }
      const char **vals;
      size_t nv;
      if (!pf__cfg_strlist(c, &e, &vals, &nv))
        continue;
      const char *json = pf__cfg_json(c, &e);
      if (!json)
        continue;
      r->completion_vars[r->ncompletions] = pf__cfg_strdup(c, e.key, strlen(e.key));
      r->completions[r->ncompletions++] = json;
    }
  }
  r->icons_json = pf__cfg_icons(c, &k[R_ICONS]);
}

void pf__cfg_resources(pf__cfg_ctx *c, const pf__cfg_val *v) {
  pf_config *cfg = c->cfg;
  if (!v->present || pf__cfg_kind(v->node) == PF__Y_NULL)
    return;
  size_t cnt;
  cfg->resources = pf__cfg_alloc_items(c, v, sizeof *cfg->resources, &cnt);
  if (!cfg->resources)
    return;
  size_t i = 0;
  for (pf__ynode *item = pf__y_items(v->node); item; item = item->next) {
    pf__cfg_val rv = pf__cfg_item(c, v, item, i);
    pf_cfg_resource *r = &cfg->resources[i++];
    parse_resource(c, &rv, r);
    const char *id = r->uri ? r->uri : r->uri_template;
    for (size_t j = 0; j + 1 < i; j++) {
      const pf_cfg_resource *o = &cfg->resources[j];
      const char *oid = o->uri ? o->uri : o->uri_template;
      if (r->name && o->name && strcmp(r->name, o->name) == 0) {
        pf__cfg_err(c, r->loc, rv.path, "duplicate resource name '%s' (first defined at line %u)",
                    r->name, o->loc.line);
        break;
      }
      if (id && oid && strcmp(id, oid) == 0) {
        pf__cfg_err(c, r->loc, rv.path, "duplicate resource uri '%s' (first defined at line %u)",
                    id, o->loc.line);
        break;
      }
    }
  }
  cfg->nresources = i;
}
