/* `prompts:`. The body is a `template` (one user message) or a list of
 * `messages`; a prompt with neither (the original pforge's production
 * example) uses its description as the template. `arguments` is a map
 * name -> spec (the original's form, where a spec may also be a bare type
 * name) or a list of specs with a `name`. */
#include "config/internal.h"

#include <string.h>

enum {
  PR_NAME,
  PR_TITLE,
  PR_DESCRIPTION,
  PR_TEMPLATE,
  PR_MESSAGES,
  PR_ARGUMENTS,
  PR_ICONS,
  PR_ENABLED,
  PR__N
};
static const pf__cfg_key prompt_keys[] = {
    {PR_NAME, "name", NULL, PF__T_STR, true},
    {PR_TITLE, "title", NULL, PF__T_STR, false},
    {PR_DESCRIPTION, "description", NULL, PF__T_STR, false},
    {PR_TEMPLATE, "template", NULL, PF__T_STR, false},
    {PR_MESSAGES, "messages", NULL, PF__T_LIST, false},
    {PR_ARGUMENTS, "arguments", NULL, PF__T_MAP_OR_LIST, false},
    {PR_ICONS, "icons", NULL, PF__T_LIST, false},
    {PR_ENABLED, "enabled", NULL, PF__T_BOOL, false},
};

enum { AR_NAME, AR_DESCRIPTION, AR_REQUIRED, AR_DEFAULT, AR_COMPLETIONS, AR_TYPE, AR__N };
static const pf__cfg_key arg_keys[] = {
    {AR_NAME, "name", NULL, PF__T_STR, false},
    {AR_DESCRIPTION, "description", NULL, PF__T_STR, false},
    {AR_REQUIRED, "required", NULL, PF__T_BOOL, false},
    {AR_DEFAULT, "default", NULL, PF__T_ANY, false},
    {AR_COMPLETIONS, "completions", NULL, PF__T_LIST, false},
    /* The original's map form reused the params DSL. MCP prompt arguments
     * are strings: one of another type is sent as JSON text of it. */
    {AR_TYPE, "type", NULL, PF__T_STR, false},
};

enum { M_ROLE, M_TEXT, M_IMAGE, M_RESOURCE, M__N };
static const pf__cfg_key message_keys[] = {
    {M_ROLE, "role", NULL, PF__T_STR, true},
    {M_TEXT, "text", NULL, PF__T_STR, false},
    {M_IMAGE, "image", NULL, PF__T_MAP, false},
    {M_RESOURCE, "resource", NULL, PF__T_MAP, false},
};

enum { I_DATA, I_MIME_TYPE, I__N };
static const pf__cfg_key image_keys[] = {
    {I_DATA, "data", NULL, PF__T_STR, true},
    {I_MIME_TYPE, "mime_type", "mimeType", PF__T_STR, true},
};

enum { E_URI, E__N };
static const pf__cfg_key embedded_keys[] = {
    {E_URI, "uri", NULL, PF__T_STR, true},
};

static const char *const arg_types[] = {"string",  "integer", "number", "float",
                                        "boolean", "array",   "object"};
static const pf_cfg_arg_type arg_type_of[] = {PF_ARG_STRING, PF_ARG_INTEGER, PF_ARG_NUMBER,
                                              PF_ARG_NUMBER, PF_ARG_BOOLEAN, PF_ARG_ARRAY,
                                              PF_ARG_OBJECT};

const char *pf_cfg_arg_type_phrase(pf_cfg_arg_type t) {
  static const char *const phrase[] = {"a string",         "an integer",   "a number",
                                       "a boolean (true or false)", "a JSON array",
                                       "a JSON object"};
  return (unsigned)t < PF__NELEM(phrase) ? phrase[t] : "a value";
}

/* The argument's type from the enum's index (-1 after a reported problem). */
static pf_cfg_arg_type type_at(int i) { return i < 0 ? PF_ARG_STRING : arg_type_of[i]; }

/* `default`: a string for a string argument (as before types were
 * honoured), else a YAML value of the argument's type; kept as JSON text. */
static void parse_default(pf__cfg_ctx *c, const pf__cfg_val *v, const char *tname,
                          pf_cfg_prompt_arg *a) {
  if (a->type == PF_ARG_STRING) {
    const char *s = pf__cfg_str(c, v);
    if (!s)
      return;
    pf_buf b = PF_BUF_INIT;
    pf_json_writer w;
    pf_jw_init(&w, &b);
    pf_jw_strz(&w, s);
    a->default_json = b.failed ? NULL : pf__cfg_strdup(c, b.data, b.len);
    c->oom |= b.failed;
    pf_buf_free(&b);
    return;
  }
  const char *json = pf__cfg_json(c, v);
  if (!json)
    return;
  const pf_json *j = pf_json_parse_copy(json, strlen(json), c->a, NULL, NULL);
  if (!j || !pf_cfg_arg_accepts(a->type, pf_json_typeof(j))) {
    pf__cfg_err(c, v->loc, v->path, "the default of a%s %s argument must be %s",
                strchr("aeiou", tname[0]) ? "n" : "", tname, pf_cfg_arg_type_phrase(a->type));
    return;
  }
  a->default_json = json;
}

/* in_list: the list form, where `name` is required; otherwise `name` is
 * the map key and may not be repeated inside. */
static void parse_arg(pf__cfg_ctx *c, const pf__cfg_val *v, const char *name,
                      pf_cfg_prompt_arg *a) {
  a->loc = name ? v->key_loc : v->loc;
  a->name = name ? pf__cfg_strdup(c, name, strlen(name)) : NULL;
  pf__ykind kind = pf__cfg_kind(v->node);
  if (name && kind == PF__Y_STR) { /* `topic: string`: required, like a param */
    a->type = type_at(pf__cfg_enum(c, v, arg_types, PF__NELEM(arg_types), false));
    a->required = true;
    return;
  }
  if (name && kind == PF__Y_NULL)
    return;
  pf__cfg_val k[AR__N];
  if (!pf__cfg_map(c, v, arg_keys, PF__NELEM(arg_keys), k, AR__N, NULL, NULL))
    return;
  if (name && k[AR_NAME].key)
    pf__cfg_err(c, k[AR_NAME].key_loc, v->path,
                "'name' is the map key here; use the list form to give it as a key");
  if (!name) {
    if (!k[AR_NAME].key)
      pf__cfg_err(c, v->loc, v->path, "missing required key 'name'");
    a->name = pf__cfg_str(c, &k[AR_NAME]);
    if (k[AR_NAME].present)
      a->loc = k[AR_NAME].loc;
  }
  a->description = pf__cfg_str(c, &k[AR_DESCRIPTION]);
  a->required = pf__cfg_bool(c, &k[AR_REQUIRED], false);
  int ti = k[AR_TYPE].present
               ? pf__cfg_enum(c, &k[AR_TYPE], arg_types, PF__NELEM(arg_types), false)
               : 0;
  a->type = type_at(ti);
  if (k[AR_DEFAULT].present) {
    if (a->required)
      pf__cfg_err(c, k[AR_DEFAULT].loc, k[AR_DEFAULT].path,
                  "a required argument cannot have a default");
    else
      parse_default(c, &k[AR_DEFAULT], arg_types[ti < 0 ? 0 : ti], a);
  }
  if (k[AR_COMPLETIONS].present) {
    const char **vals;
    size_t n;
    if (pf__cfg_strlist(c, &k[AR_COMPLETIONS], &vals, &n))
      a->completions_json = pf__cfg_json(c, &k[AR_COMPLETIONS]);
  }
}

static void parse_args(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_prompt *p) {
  size_t cnt = pf__cfg_count(v);
  if (!cnt)
    return;
  p->args = pf_arena_calloc(c->a, cnt, sizeof *p->args);
  if (!p->args) {
    c->oom = true;
    return;
  }
  size_t i = 0;
  if (pf__cfg_kind(v->node) == PF__Y_MAP) {
    for (const pf__ynode *kn = pf__y_keys(v->node); kn; kn = kn->next) {
      pf__cfg_val e = pf__cfg_entry(c, v, kn);
      parse_arg(c, &e, e.key, &p->args[i++]);
    }
  } else {
    for (pf__ynode *item = pf__y_items(v->node); item; item = item->next) {
      pf__cfg_val e = pf__cfg_item(c, v, item, i);
      pf_cfg_prompt_arg *a = &p->args[i++];
      parse_arg(c, &e, NULL, a);
      for (size_t j = 0; a->name && j + 1 < i; j++)
        if (p->args[j].name && strcmp(p->args[j].name, a->name) == 0) {
          pf__cfg_err(c, a->loc, e.path, "duplicate argument name '%s' (first defined at line %u)",
                      a->name, p->args[j].loc.line);
          break;
        }
    }
  }
  p->nargs = i;
}

static void parse_message(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_prompt_msg *m) {
  static const char *const roles[] = {"user", "assistant"};
  m->loc = v->loc;
  pf__cfg_val k[M__N];
  if (!pf__cfg_map(c, v, message_keys, PF__NELEM(message_keys), k, M__N, NULL, NULL))
    return;
  int r = pf__cfg_enum(c, &k[M_ROLE], roles, 2, false);
  m->role = r >= 0 ? roles[r] : NULL;
  int n = !!k[M_TEXT].key + !!k[M_IMAGE].key + !!k[M_RESOURCE].key;
  if (n != 1) {
    pf__cfg_err(c, v->loc, v->path,
                "a message needs exactly one of 'text', 'image' and 'resource'");
    return;
  }
  if (k[M_TEXT].key) {
    m->type = "text";
    m->text = pf__cfg_str(c, &k[M_TEXT]);
  } else if (k[M_IMAGE].present) {
    m->type = "image";
    pf__cfg_val im[I__N];
    pf__cfg_map(c, &k[M_IMAGE], image_keys, PF__NELEM(image_keys), im, I__N, NULL, NULL);
    m->data = pf__cfg_str(c, &im[I_DATA]);
    m->mime_type = pf__cfg_str(c, &im[I_MIME_TYPE]);
  } else if (k[M_RESOURCE].present) {
    m->type = "resource";
    pf__cfg_val e[E__N];
    pf__cfg_map(c, &k[M_RESOURCE], embedded_keys, PF__NELEM(embedded_keys), e, E__N, NULL, NULL);
    m->uri = pf__cfg_str(c, &e[E_URI]);
  }
}

static void parse_prompt(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_prompt *p) {
  p->loc = v->loc;
  pf__cfg_val k[PR__N];
  if (!pf__cfg_map(c, v, prompt_keys, PF__NELEM(prompt_keys), k, PR__N, NULL, NULL))
    return;
  p->name = pf__cfg_str(c, &k[PR_NAME]);
  if (k[PR_NAME].present)
    p->loc = k[PR_NAME].loc;
  p->title = pf__cfg_str(c, &k[PR_TITLE]);
  p->description = pf__cfg_str(c, &k[PR_DESCRIPTION]);
  p->template_text = pf__cfg_str(c, &k[PR_TEMPLATE]);
  if (k[PR_TEMPLATE].key && k[PR_MESSAGES].key) {
    pf__cfg_err(c, k[PR_MESSAGES].key_loc, v->path,
                "give either 'template' or 'messages', not both");
  } else if (k[PR_MESSAGES].present) {
    size_t cnt = pf__cfg_count(&k[PR_MESSAGES]);
    if (cnt == 0)
      pf__cfg_err(c, k[PR_MESSAGES].loc, k[PR_MESSAGES].path, "messages must not be empty");
    p->messages = pf_arena_calloc(c->a, cnt ? cnt : 1, sizeof *p->messages);
    if (!p->messages) {
      c->oom = true;
      return;
    }
    for (pf__ynode *item = pf__y_items(k[PR_MESSAGES].node); item; item = item->next) {
      pf__cfg_val mv = pf__cfg_item(c, &k[PR_MESSAGES], item, p->nmessages);
      parse_message(c, &mv, &p->messages[p->nmessages++]);
    }
  } else if (!k[PR_TEMPLATE].key) {
    if (p->description)
      p->template_text = p->description;
    else if (!k[PR_DESCRIPTION].key)
      pf__cfg_err(c, v->loc, v->path, "a prompt needs 'template' or 'messages'");
  }
  if (k[PR_ARGUMENTS].present)
    parse_args(c, &k[PR_ARGUMENTS], p);
  p->icons_json = pf__cfg_icons(c, &k[PR_ICONS]);
  p->disabled = !pf__cfg_bool(c, &k[PR_ENABLED], true);
}

void pf__cfg_prompts(pf__cfg_ctx *c, const pf__cfg_val *v) {
  pf_config *cfg = c->cfg;
  if (!v->present || pf__cfg_kind(v->node) == PF__Y_NULL)
    return;
  size_t cnt;
  cfg->prompts = pf__cfg_alloc_items(c, v, sizeof *cfg->prompts, &cnt);
  if (!cfg->prompts)
    return;
  size_t i = 0;
  for (pf__ynode *item = pf__y_items(v->node); item; item = item->next) {
    pf__cfg_val pv = pf__cfg_item(c, v, item, i);
    pf_cfg_prompt *p = &cfg->prompts[i++];
    parse_prompt(c, &pv, p);
    for (size_t j = 0; p->name && j + 1 < i; j++)
      if (cfg->prompts[j].name && strcmp(cfg->prompts[j].name, p->name) == 0) {
        pf__cfg_err(c, p->loc, pf__cfg_path_key(c, pv.path, "name"),
                    "duplicate prompt name '%s' (first defined at line %u)", p->name,
                    cfg->prompts[j].loc.line);
        break;
      }
  }
  cfg->nprompts = i;
}
