/* pipeline tools (see pipeline.h). */
#include "tools/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "template/expr.h"
#include "template/jsontmpl.h"
#include "schema/validator.h"
#include "template/template.h"

typedef struct pstep {
  const pf__tool *tool; /* resolved by pf__pipeline_link */
  pf_jtmpl *input;      /* or NULL: the pipeline's arguments */
  pf_expr *cond;        /* or NULL */
  const char *var;      /* output_var, or NULL */
  bool cont;            /* error_policy: continue */
} pstep;

typedef struct pf__pipeline {
  pstep *steps;
  size_t n;
  long out_step;  /* output names this step's var; else -1 */
  pf_tmpl *out;   /* a text template for the result, or NULL */
} pf__pipeline;

/* One running pipeline call. Lives in the call's arena. */
typedef struct prun {
  pf_call *call;
  const pf__pipeline *p;
  size_t next;            /* the step to run next */
  const pf_json **vals;   /* per step: its value (NULL: not run / failed) */
  const pf_json **errs;   /* per step: its error text (a string), or NULL */
  size_t last;            /* the last step run, or SIZE_MAX */
  pf_buf last_content, last_structured; /* its result */
  int last_nblocks;
  bool last_error, last_has_structured;
  bool in_step, step_sync; /* trampolining synchronous completions */
  bool cancelled, done;
} prun;

static int pipeline_start(pf_call *c, uv_loop_t *loop);

/* ---- load ---- */

static bool is_ident(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || *s == '-'))
      return false;
  return true;
}

/* Which step (up to `upto`, exclusive) defines var name; -1 when none. The
 * `<var>_error` companions count as defined by their step. */
static long var_step(const pf_cfg_tool *cfg, size_t upto, const char *name) {
  for (size_t i = 0; i < upto; i++) {
    const char *v = cfg->more->steps[i].output_var;
    if (!v)
      continue;
    size_t vl = strlen(v);
    if (strcmp(v, name) == 0 || (strncmp(name, v, vl) == 0 && strcmp(name + vl, "_error") == 0))
      return (long)i;
  }
  return -1;
}

static bool is_param(const pf_cfg_tool *cfg, const char *name) {
  for (size_t i = 0; i < cfg->build->nparams; i++)
    if (strcmp(cfg->build->params[i].name, name) == 0)
      return true;
  return false;
}

typedef struct varset {
  const char *v[64];
  size_t n;
} varset;

/* A variable used at step `at` (cfg->nsteps for `output`). */
static void use_var(const pf_cfg_tool *cfg, size_t at, const char *what, const char *name,
                    varset *free_vars, pf_buf *err, int *rc) {
  if (strcmp(name, "this") == 0 || var_step(cfg, at, name) >= 0)
    return;
  long later = var_step(cfg, cfg->more->nsteps, name);
  if (later >= 0) {
    pf_buf_printf(err, "steps[%zu].%s: '%s' is the output of step %ld, which runs later\n", at,
                  what, name, later);
    *rc = -PF_ECONFIG;
    return;
  }
  if (cfg->build->nparams || cfg->input_schema_json) {
    if (!is_param(cfg, name) && cfg->build->nparams) {
      if (at == cfg->more->nsteps)
        pf_buf_printf(err, "output: unknown variable '%s' (not a param or a step's output_var)\n",
                      name);
      else
        pf_buf_printf(err,
                      "steps[%zu].%s: unknown variable '%s' (not a param or an earlier step's "
                      "output_var)\n",
                      at, what, name);
      *rc = -PF_ECONFIG;
    }
    return;
  }
  for (size_t i = 0; i < free_vars->n; i++)
    if (strcmp(free_vars->v[i], name) == 0)
      return;
  if (free_vars->n < 64)
    free_vars->v[free_vars->n++] = name;
}

int pf__pipeline_prepare(pf_cfg_tool *cfg, pf__tool *t, pf_arena *arena, pf_buf *err) {
  pf__pipeline *p = pf__malloc(sizeof *p);
  if (!p)
    return -PF_ENOMEM;
  memset(p, 0, sizeof *p);
  p->out_step = -1;
  pf__tool_rare *rare = pf__tool_rare_mut(t);
  if (!rare) {
    pf__free(p);
    return -PF_ENOMEM;
  }
  rare->kind_data = p;
  p->steps = pf__malloc((cfg->more->nsteps ? cfg->more->nsteps : 1) * sizeof *p->steps);
  if (!p->steps)
    return -PF_ENOMEM;
  memset(p->steps, 0, (cfg->more->nsteps ? cfg->more->nsteps : 1) * sizeof *p->steps);
  p->n = cfg->more->nsteps;
  int rc = 0;
  varset fv = {.n = 0};
  for (size_t i = 0; i < cfg->more->nsteps; i++) {
    const pf_cfg_pipeline_step *cs = &cfg->more->steps[i];
    pstep *s = &p->steps[i];
    s->var = cs->output_var;
    s->cont = cs->continue_on_error;
    if (s->var) {
      if (!is_ident(s->var)) {
        pf_buf_printf(err, "steps[%zu].output_var: '%s' is not a name (use A-Z a-z 0-9 _ -)\n", i,
                      s->var);
        rc = -PF_ECONFIG;
      } else if (is_param(cfg, s->var)) {
        pf_buf_printf(err, "steps[%zu].output_var: '%s' is also a param of the pipeline\n", i,
                      s->var);
        rc = -PF_ECONFIG;
      } else if (var_step(cfg, i, s->var) >= 0) {
        pf_buf_printf(err, "steps[%zu].output_var: '%s' is already the output of step %ld\n", i,
                      s->var, var_step(cfg, i, s->var));
        rc = -PF_ECONFIG;
      }
    }
    if (cs->input_json) {
      pf_buf e = PF_BUF_INIT;
      s->input = pf_jtmpl_compile(cs->input_json, strlen(cs->input_json), &e);
      if (!s->input) {
        pf_buf_printf(err, "steps[%zu].input: %s\n", i, pf_buf_cstr(&e));
        rc = -PF_ECONFIG;
      }
      pf_buf_free(&e);
      for (size_t v = 0; s->input && v < pf_jtmpl_nvars(s->input); v++)
        use_var(cfg, i, "input", pf_jtmpl_var(s->input, v), &fv, err, &rc);
    }
    if (cs->condition) {
      pf_tmpl_diag d;
      s->cond = pf_expr_compile(cs->condition, strlen(cs->condition), &d);
      if (!s->cond) {
        pf_buf_printf(err, "steps[%zu].condition: %u:%u: %s\n", i, d.line, d.col, d.msg);
        rc = -PF_ECONFIG;
      }
      for (size_t v = 0; s->cond && v < pf_expr_nvars(s->cond); v++)
        use_var(cfg, i, "condition", pf_expr_var(s->cond, v), &fv, err, &rc);
    }
  }
  if (cfg->more->pipeline_output) {
    const char *o = cfg->more->pipeline_output;
    pf_buf e = PF_BUF_INIT;
    p->out = pf_tmpl_compile(o, strlen(o), &e);
    if (!p->out) {
      pf_buf_printf(err, "output: %s\n", pf_buf_cstr(&e));
      rc = -PF_ECONFIG;
    }
    pf_buf_free(&e);
    const char *single = NULL;
    if (is_ident(o))
      single = o;
    else if (p->out && pf_tmpl_is_single_var(p->out, &single) && !is_ident(single))
      single = NULL;
    long st = single ? var_step(cfg, cfg->more->nsteps, single) : -1;
    if (st >= 0 && strcmp(cfg->more->steps[st].output_var, single) == 0) {
      p->out_step = st;
    } else if (is_ident(o)) {
      pf_buf_printf(err,
                    "output: '%s' is not the output_var of a step (write a template, e.g. "
                    "'{{%s}}', to render a value)\n",
                    o, o);
      rc = -PF_ECONFIG;
    } else {
      for (size_t v = 0; p->out && v < pf_tmpl_nvars(p->out); v++)
        use_var(cfg, cfg->more->nsteps, "output", pf_tmpl_var(p->out, v), &fv, err, &rc);
    }
  }
  if (rc)
    return rc;
  if (fv.n && !cfg->build->nparams && !cfg->input_schema_json) {
    /* no params declared: every free variable is a required param of any
     * type */
    pf_buf sch = PF_BUF_INIT;
    pf_buf_puts(&sch, "{\"type\":\"object\",\"properties\":{");
    for (size_t i = 0; i < fv.n; i++)
      pf_buf_printf(&sch, "%s\"%s\":{}", i ? "," : "", fv.v[i]);
    pf_buf_puts(&sch, "},\"required\":[");
    for (size_t i = 0; i < fv.n; i++)
      pf_buf_printf(&sch, "%s\"%s\"", i ? "," : "", fv.v[i]);
    pf_buf_puts(&sch, "]}");
    cfg->input_schema_json = sch.failed ? NULL : pf_arena_strndup(arena, sch.data, sch.len);
    pf_buf_free(&sch);
    if (!cfg->input_schema_json)
      return -PF_ENOMEM;
  }
  rare->start = pipeline_start;
  t->loop = true;
  return 0;
}

void pf__pipeline_link(pf__tool *t, pf__tool *tools, const pf__registry *reg) {
  pf__pipeline *p = t->rare->kind_data;
  for (size_t i = 0; p && i < p->n; i++) {
    const char *name = t->cfg->more->steps[i].tool;
    long ti = name ? pf__registry_find(reg, name, strlen(name)) : -1;
    p->steps[i].tool = ti >= 0 ? &tools[ti] : NULL;
  }
}

void pf__pipeline_free(pf__tool *t) {
  pf__pipeline *p = t->rare->kind_data;
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++) {
    pf_jtmpl_free(p->steps[i].input);
    pf_expr_free(p->steps[i].cond);
  }
  pf_tmpl_free(p->out);
  pf__free(p->steps);
  pf__free(p);
  ((pf__tool_rare *)t->rare)->kind_data = NULL; /* its own block: it had kind_data */
}

/* ---- run ---- */

static const pf_json *lookup(void *ud, const char *name, size_t len) {
  prun *r = ud;
  for (size_t i = 0; i < r->p->n; i++) {
    const char *v = r->p->steps[i].var;
    if (!v)
      continue;
    size_t vl = strlen(v);
    if (vl == len && memcmp(v, name, len) == 0)
      return r->vals[i];
    if (r->errs[i] && len == vl + 6 && memcmp(name, v, vl) == 0 &&
        memcmp(name + vl, "_error", 6) == 0)
      return r->errs[i];
  }
  /* the pipeline's params' schema defaults */
  return pf_validator_default(r->call->tool->input, name, len);
}

static pf_tmpl_ctx ctx_of(prun *r) {
  pf_tmpl_ctx ctx = {.values = r->call->args, .lookup = lookup, .ud = r};
  return ctx;
}

/* The text content of a result (text blocks joined). */
static void result_text(const pf_call *c, pf_buf *out, pf_arena *arena) {
  pf_buf arr = PF_BUF_INIT;
  pf_buf_putc(&arr, '[');
  pf_buf_append(&arr, c->content->data, c->content->len);
  pf_buf_putc(&arr, ']');
  const pf_json *blocks = arr.failed ? NULL : pf_json_parse_copy(arr.data, arr.len, arena, NULL, NULL);
  pf_buf_free(&arr);
  for (size_t i = 0; blocks && i < pf_json_len(blocks); i++) {
    const pf_json *b = pf_json_at(blocks, i);
    size_t l;
    const char *s = pf_json_str(pf_json_get(b, "text"), &l);
    if (s)
      pf_buf_append(out, s, l);
  }
}

static void finish(prun *r);
static void run_steps(prun *r);

/* A JSON string node (in arena) holding text[0..len), or NULL. */
static const pf_json *str_node(pf_arena *arena, const char *text, size_t len) {
  pf_json_writer w;
  pf_buf q = PF_BUF_INIT;
  pf_jw_init(&w, &q);
  pf_jw_str(&w, text ? text : "", len);
  const pf_json *v = q.failed ? NULL : pf_json_parse_copy(q.data, q.len, arena, NULL, NULL);
  pf_buf_free(&q);
  return v;
}

static void step_done(void *ud, pf_call *c) {
  prun *r = ud;
  size_t i = r->next++;
  const pstep *s = &r->p->steps[i];
  pf_arena *arena = r->call->arena;
  if (pf_cancelled(r->call)) {
    r->cancelled = true;
  } else if (c->is_error) {
    pf_buf t = PF_BUF_INIT;
    result_text(c, &t, arena);
    r->errs[i] = str_node(arena, t.data, t.len);
    if (!s->cont) {
      pf_result_error(r->call, "Pipeline '%s' failed at step %zu ('%s'): %.*s", r->call->name,
                      i + 1, s->tool->cfg->name, (int)(t.len > 4000 ? 4000 : t.len),
                      t.data ? t.data : "");
      r->done = true;
    }
    pf_buf_free(&t);
  } else if (s->var) {
    if (c->has_structured && c->structured->len) {
      r->vals[i] = pf_json_parse_copy(c->structured->data, c->structured->len, arena, NULL, NULL);
    } else {
      pf_buf t = PF_BUF_INIT;
      result_text(c, &t, arena);
      const pf_json *v = t.len ? pf_json_parse_copy(t.data, t.len, arena, NULL, NULL) : NULL;
      if (!v)
        v = str_node(arena, t.data, t.len);
      pf_buf_free(&t);
      r->vals[i] = v;
    }
  }
  /* keep the result: the pipeline may return it */
  r->last = i;
  pf_buf_reset(&r->last_content);
  pf_buf_append(&r->last_content, c->content->data, c->content->len);
  pf_buf_reset(&r->last_structured);
  r->last_has_structured = c->has_structured && !c->is_error;
  if (r->last_has_structured)
    pf_buf_append(&r->last_structured, c->structured->data, c->structured->len);
  r->last_nblocks = c->nblocks;
  r->last_error = c->is_error;
  if (r->in_step) {
    r->step_sync = true; /* run_steps goes on */
    return;
  }
  run_steps(r);
}

/* Runs steps until one goes asynchronous or the pipeline ends. */
static void run_steps(prun *r) {
  pf_call *c = r->call;
  while (!r->done && !r->cancelled && r->next < r->p->n) {
    if (pf_cancelled(c)) {
      r->cancelled = true;
      break;
    }
    size_t i = r->next;
    const pstep *s = &r->p->steps[i];
    pf_tmpl_ctx ctx = ctx_of(r);
    if (s->cond && !pf_expr_eval(s->cond, &ctx)) {
      r->next++;
      continue;
    }
    if (c->progress_token)
      pf_progress(c, (double)i, (double)r->p->n, s->tool->cfg->name);
    const pf_json *args = c->args;
    if (s->input) {
      pf_buf b = PF_BUF_INIT;
      int rc = pf_jtmpl_render(s->input, &ctx, &b);
      args = rc == 0 && !b.failed ? pf_json_parse_copy(b.data, b.len, c->arena, NULL, NULL) : NULL;
      pf_buf_free(&b);
      if (!args || pf_json_typeof(args) != PF_JSON_OBJECT) {
        pf_result_error(c, "Pipeline '%s' step %zu ('%s'): its input did not render to an object",
                        c->name, i + 1, s->tool->cfg->name);
        r->done = true;
        break;
      }
    }
    r->in_step = true;
    r->step_sync = false;
    pf__invoke(c, s->tool, args, step_done, r);
    r->in_step = false;
    if (!r->step_sync)
      return; /* step_done continues */
  }
  finish(r);
}

static void finish(prun *r) {
  pf_call *c = r->call;
  struct pf__async *a = c->async;
  if (!r->cancelled && !r->done) {
    const pf__pipeline *p = r->p;
    if (p->out_step >= 0 || !p->out) {
      /* a step's result: the named one, else the last one run */
      size_t want = p->out_step >= 0 ? (size_t)p->out_step : r->last;
      if (want == r->last && r->last != SIZE_MAX) {
        pf_buf_append(c->content, r->last_content.data, r->last_content.len);
        c->nblocks += r->last_nblocks;
        c->is_error = r->last_error;
        if (r->last_has_structured) {
          pf_buf_append(c->structured, r->last_structured.data, r->last_structured.len);
          c->has_structured = true;
        }
      } else if (p->out_step >= 0 && r->vals[want]) {
        const pf_json *v = r->vals[want];
        if (pf_json_typeof(v) == PF_JSON_OBJECT) {
          pf_jw_value(pf_result_structured(c), v);
        } else {
          pf_buf t = PF_BUF_INIT;
          pf_json_writer w;
          pf_jw_init(&w, &t);
          size_t l;
          const char *s = pf_json_str(v, &l);
          if (s)
            pf_buf_append(&t, s, l);
          else
            pf_jw_value(&w, v);
          pf_result_text(c, t.data ? t.data : "", t.len);
          pf_buf_free(&t);
        }
      } else if (p->out_step >= 0) {
        pf_result_error(c, "Pipeline '%s': step %ld ('%s') did not run or failed, so its output "
                           "'%s' is missing",
                        c->name, p->out_step + 1, p->steps[p->out_step].tool->cfg->name,
                        p->steps[p->out_step].var);
      } else {
        pf_result_textz(c, "");
      }
    } else {
      pf_buf t = PF_BUF_INIT;
      pf_tmpl_ctx ctx = ctx_of(r);
      pf_tmpl_render(p->out, &ctx, PF_TMPL_RAW, &t);
      const pf_json *v =
          t.len ? pf_json_parse_copy(t.data, t.len, c->arena, NULL, NULL) : NULL;
      if (v && pf_json_typeof(v) == PF_JSON_OBJECT)
        pf_jw_value(pf_result_structured(c), v);
      else
        pf_result_text(c, t.data ? t.data : "", t.len);
      pf_buf_free(&t);
    }
    if (c->progress_token)
      pf_progress(c, (double)p->n, (double)p->n, "done");
  }
  pf_buf_free(&r->last_content);
  pf_buf_free(&r->last_structured);
  pf__async_complete(a, 0);
}

static int pipeline_start(pf_call *c, uv_loop_t *loop) {
  (void)loop;
  const pf__pipeline *p = c->tool->rare->kind_data;
  prun *r = pf_call_alloc(c, sizeof *r);
  const pf_json **vals = pf_call_alloc(c, (p->n + 1) * sizeof *vals);
  const pf_json **errs = pf_call_alloc(c, (p->n + 1) * sizeof *errs);
  if (!r || !vals || !errs)
    return pf_result_error(c, "Pipeline '%s' failed: out of memory", c->name), -PF_ENOMEM;
  memset(r, 0, sizeof *r);
  memset(vals, 0, (p->n + 1) * sizeof *vals);
  memset(errs, 0, (p->n + 1) * sizeof *errs);
  r->call = c;
  r->p = p;
  r->vals = vals;
  r->errs = errs;
  r->last = SIZE_MAX;
  r->last_content = (pf_buf)PF_BUF_INIT;
  r->last_structured = (pf_buf)PF_BUF_INIT;
  /* cancellation reaches the running step through the request; the
   * pipeline notices when that step completes */
  run_steps(r);
  return 0;
}
