/* prompts/get and completion/complete. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "json/internal.h"
#include "mcp/internal.h"
#include "template/template.h"

static const pf__prompt *find_prompt(pf__session *s, const char *name, size_t len) {
  long k = pf__registry_find(&s->srv->prompt_reg, name, len);
  return k < 0 || atomic_load(&s->srv->prompts[k].hidden) ? NULL : &s->srv->prompts[k];
}

/* The contents of a static text/file resource, for an embedded resource in
 * a prompt message. Appends {uri, mimeType, text} to w, or {uri, mimeType,
 * blob} for a file that is not text (decided as resources/read does). */
static int embed_resource(pf__session *s, const char *uri, pf_json_writer *w) {
  long k = pf__registry_find(&s->srv->res_reg, uri, strlen(uri));
  if (k < 0)
    return -1;
  const pf__resource *r = &s->srv->resources[k];
  pf_buf text = PF_BUF_INIT;
  if (r->cfg->text) {
    pf_buf_puts(&text, r->cfg->text);
  } else if (r->file_path) {
    /* resolved again, as resources/read does: the file may have been
     * replaced since the load by a symlink out of the root */
    char *path = pf__resource_resolve(s->srv, r->file_path, strlen(r->file_path));
    FILE *f = path ? fopen(path, "rb") : NULL;
    pf__free(path);
    if (!f)
      return -1;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
      pf_buf_append(&text, chunk, n);
    fclose(f);
  } else {
    return -1;
  }
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "uri");
  pf_jw_strz(w, uri);
  if (r->cfg->mime_type) {
    PF_JW_KEY(w, "mimeType");
    pf_jw_strz(w, r->cfg->mime_type);
  }
  if (r->cfg->text ||
      pf__resource_as_text(r->cfg->mime_type, text.data ? text.data : "", text.len)) {
    PF_JW_KEY(w, "text");
    pf_jw_str(w, text.data ? text.data : "", text.len);
  } else {
    PF_JW_KEY(w, "blob");
    pf_buf_putc(w->out, '"');
    pf__base64_encode(w->out, text.data, text.len);
    pf_buf_putc(w->out, '"');
    w->comma = true;
  }
  pf_jw_obj_end(w);
  pf_buf_free(&text);
  return 0;
}

void pf__m_prompts_get(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out) {
  size_t nlen;
  const char *name = pf_json_str(pf_json_get(params, "name"), &nlen);
  if (!name) {
    pf__rpc_error(out, id, -32602, "Invalid params: prompts/get needs a prompt name", NULL);
    return;
  }
  const pf__prompt *p = find_prompt(s, name, nlen);
  if (!p) {
    pf__rpc_errorf(out, id, -32602, "Unknown prompt: %.*s", (int)(nlen > 200 ? 200 : nlen), name);
    return;
  }
  const pf_cfg_prompt *c = p->cfg;
  const pf_json *args = pf_json_get(params, "arguments");
  if (args && pf_json_typeof(args) != PF_JSON_OBJECT && pf_json_typeof(args) != PF_JSON_NULL) {
    pf__rpc_error(out, id, -32602, "Invalid params: arguments must be an object of strings", NULL);
    return;
  }
  /* arguments with defaults applied, as one object for the renderer; one
   * of a type other than string is JSON text of that type, and the
   * template sees the value */
  pf_buf ctxb = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &ctxb);
  pf_jw_obj_begin(&w);
  for (size_t i = 0; i < c->nargs; i++) {
    const pf_cfg_prompt_arg *a = &c->args[i];
    const pf_json *v = pf_json_get(args, a->name);
    if (v && pf_json_typeof(v) != PF_JSON_STRING) {
      pf_buf_free(&ctxb);
      pf__rpc_errorf(out, id, -32602,
                     "Invalid params: argument '%s' of prompt '%s' must be a string", a->name,
                     c->name);
      return;
    }
    if (!v && a->required) {
      pf_buf_free(&ctxb);
      pf__rpc_errorf(out, id, -32602,
                     "Invalid params: missing required argument '%s' for prompt '%s'", a->name,
                     c->name);
      return;
    }
    if (v && a->type != PF_ARG_STRING) {
      size_t vl;
      const char *vs = pf_json_str(v, &vl);
      const pf_json *tv = pf_json_parse_copy(vs, vl, pf__scratch_get()->arena, NULL, NULL);
      if (!tv || !pf_cfg_arg_accepts(a->type, pf_json_typeof(tv))) {
        pf_buf_free(&ctxb);
        pf__rpc_errorf(out, id, -32602,
                       "Invalid params: argument '%s' of prompt '%s' must be %s, given as text "
                       "(got \"%.*s\")",
                       a->name, c->name, pf_cfg_arg_type_phrase(a->type),
                       (int)(vl > 64 ? 64 : vl), vs);
        return;
      }
      v = tv;
    }
    if (v || a->default_json) {
      pf_jw_key(&w, a->name, strlen(a->name));
      if (v)
        pf_jw_value(&w, v);
      else
        pf_jw_raw(&w, a->default_json, strlen(a->default_json));
    }
  }
  pf_jw_obj_end(&w);
  const pf_json *ctxv =
      ctxb.failed ? NULL
                  : pf_json_parse_copy(ctxb.data, ctxb.len, pf__scratch_get()->arena, NULL, NULL);
  pf_buf_free(&ctxb);
  if (!ctxv) {
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
    return;
  }
  pf_tmpl_ctx ctx = {ctxv, NULL, NULL, false, NULL};

  pf_buf res = PF_BUF_INIT, text = PF_BUF_INIT;
  pf_jw_init(&w, &res);
  pf_jw_obj_begin(&w);
  if (c->description) {
    PF_JW_KEY(&w, "description");
    pf_jw_strz(&w, c->description);
  }
  PF_JW_KEY(&w, "messages");
  pf_jw_arr_begin(&w);
  size_t nmsg = c->template_text ? 1 : c->nmessages;
  int bad = 0;
  for (size_t m = 0; m < nmsg && !bad; m++) {
    const pf_cfg_prompt_msg *msg = c->template_text ? NULL : &c->messages[m];
    const char *type = msg && msg->type ? msg->type : "text";
    pf_buf_reset(&text);
    if (p->tmpls[m] && pf_tmpl_render(p->tmpls[m], &ctx, PF_TMPL_RAW, &text) != 0)
      bad = 1;
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "role");
    pf_jw_strz(&w, msg && msg->role ? msg->role : "user");
    PF_JW_KEY(&w, "content");
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "type");
    pf_jw_strz(&w, type);
    if (strcmp(type, "image") == 0) {
      PF_JW_KEY(&w, "data");
      pf_jw_str(&w, text.data ? text.data : "", text.len);
      PF_JW_KEY(&w, "mimeType");
      pf_jw_strz(&w, msg->mime_type ? msg->mime_type : "image/png");
    } else if (strcmp(type, "resource") == 0) {
      PF_JW_KEY(&w, "resource");
      if (!msg->uri || embed_resource(s, msg->uri, &w) != 0)
        bad = 2;
    } else {
      PF_JW_KEY(&w, "text");
      pf_jw_str(&w, text.data ? text.data : "", text.len);
    }
    pf_jw_obj_end(&w);
    pf_jw_obj_end(&w);
  }
  pf_jw_arr_end(&w);
  pf_jw_obj_end(&w);
  if (bad || res.failed)
    pf__rpc_error(out, id, -32603,
                  bad == 2
                      ? "Internal error: a prompt message embeds a resource that cannot be read"
                      : "Internal error: cannot render the prompt",
                  NULL);
  else
    pf__rpc_result_raw(out, id, res.data, res.len);
  pf_buf_free(&res);
  pf_buf_free(&text);
}

/* completion/complete: values from the config, filtered by prefix. */
void pf__m_complete(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out) {
  const pf_json *ref = pf_json_get(params, "ref");
  const char *type = pf_json_get_str(ref, "type", NULL);
  const pf_json *arg = pf_json_get(params, "argument");
  const char *aname = pf_json_get_str(arg, "name", NULL);
  size_t plen = 0;
  const char *prefix = pf_json_str(pf_json_get(arg, "value"), &plen);
  if (!type || !aname || !prefix) {
    pf__rpc_error(out, id, -32602,
                  "Invalid params: completion/complete needs ref.type, argument.name and "
                  "argument.value",
                  NULL);
    return;
  }
  const char *values_json = NULL;
  if (strcmp(type, "ref/prompt") == 0) {
    size_t nlen;
    const char *name = pf_json_str(pf_json_get(ref, "name"), &nlen);
    const pf__prompt *p = name ? find_prompt(s, name, nlen) : NULL;
    if (!p) {
      pf__rpc_error(out, id, -32602, "Invalid params: unknown prompt", NULL);
      return;
    }
    for (size_t i = 0; i < p->cfg->nargs; i++)
      if (strcmp(p->cfg->args[i].name, aname) == 0)
        values_json = p->cfg->args[i].completions_json;
  } else if (strcmp(type, "ref/resource") == 0) {
    const char *uri = pf_json_get_str(ref, "uri", NULL);
    const pf_cfg_resource *found = NULL;
    for (size_t i = s->srv->nstatic; uri && i < s->srv->nresources; i++)
      if (strcmp(s->srv->resources[i].cfg->uri_template, uri) == 0)
        found = s->srv->resources[i].cfg;
    if (!found) {
      pf__rpc_error(out, id, -32602, "Invalid params: unknown resource template", NULL);
      return;
    }
    for (size_t i = 0; i < found->ncompletions; i++)
      if (strcmp(found->completion_vars[i], aname) == 0)
        values_json = found->completions[i];
  } else {
    pf__rpc_error(out, id, -32602, "Invalid params: ref.type must be ref/prompt or ref/resource",
                  NULL);
    return;
  }
  const pf_json *vals = values_json ? pf_json_parse_copy(values_json, strlen(values_json),
                                                         pf__scratch_get()->arena, NULL, NULL)
                                    : NULL;
  pf_buf res = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &res);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "completion");
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "values");
  pf_jw_arr_begin(&w);
  size_t total = 0;
  pf_json_iter it = pf_json_iter_init(vals);
  const pf_json *v;
  while (pf_json_iter_next(&it, NULL, &v)) {
    size_t l;
    const char *str = pf_json_str(v, &l);
    if (!str || l < plen || memcmp(str, prefix, plen) != 0)
      continue;
    if (total < 100)
      pf_jw_str(&w, str, l);
    total++;
  }
  pf_jw_arr_end(&w);
  PF_JW_KEY(&w, "total");
  pf_jw_uint(&w, total);
  PF_JW_KEY(&w, "hasMore");
  pf_jw_bool(&w, total > 100);
  pf_jw_obj_end(&w);
  pf_jw_obj_end(&w);
  if (res.failed)
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
  else
    pf__rpc_result_raw(out, id, res.data, res.len);
  pf_buf_free(&res);
}
