/* cli tools: uv_spawn on the loop thread, no shell, a process group per
 * call (UV_PROCESS_DETACHED: setsid), killed as a whole on timeout,
 * cancellation and exit. */
#include "tools/cli.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "schema/validator.h"
#include "template/template.h"

extern char **environ;

typedef struct pf__cli {
  pf_tmpl *command;
  pf_tmpl **args;
  size_t nargs;
  pf_tmpl *cwd;       /* or NULL */
  pf_tmpl **env;      /* one per cfg->env value */
  pf_tmpl *stdin_tpl; /* or NULL */
} pf__cli;

static _Atomic int children; /* running child processes, server-wide */

static int cli_start(pf_call *c, uv_loop_t *loop);

/* ------------------------------------------------------------------ */
/* Load                                                                 */

static pf_tmpl *compile(const char *what, const char *text, pf_buf *err, int *rc) {
  pf_buf e = PF_BUF_INIT;
  pf_tmpl *t = pf_tmpl_compile(text, strlen(text), &e);
  if (!t) {
    pf_buf_puts(err, what);
    pf_buf_puts(err, ": ");
    pf_buf_puts(err, pf_buf_cstr(&e));
    *rc = -PF_ECONFIG;
  }
  pf_buf_free(&e);
  return t;
}

static void add_vars(const pf_tmpl *t, const char **vars, size_t *n, size_t cap) {
  if (!t)
    return;
  for (size_t i = 0; i < pf_tmpl_nvars(t); i++) {
    const char *v = pf_tmpl_var(t, i);
    bool seen = false;
    for (size_t j = 0; j < *n && !seen; j++)
      seen = strcmp(vars[j], v) == 0;
    if (!seen && *n < cap)
      vars[(*n)++] = v;
  }
}

static void init_param(pf_cfg_param *p, const char *name, pf_param_type type, bool required,
                       pf_cfg_loc loc) {
  memset(p, 0, sizeof *p);
  p->name = name;
  p->type = type;
  p->required = required;
  p->min_length = p->max_length = -1;
  p->loc = loc;
}

int pf__cli_prepare(pf_cfg_tool *cfg, pf__tool *t, pf_arena *arena, pf_buf *err) {
  pf__cli *k = pf__malloc(sizeof *k);
  if (!k)
    return -PF_ENOMEM;
  memset(k, 0, sizeof *k);
  pf__tool_rare *rare = pf__tool_rare_mut(t);
  if (!rare) {
    pf__free(k);
    return -PF_ENOMEM;
  }
  rare->kind_data = k;
  int rc = 0;
  k->command = compile("command", cfg->more->cli->command ? cfg->more->cli->command : "", err, &rc);
  if (cfg->more->cli->nargs) {
    k->args = pf__malloc(cfg->more->cli->nargs * sizeof *k->args);
    if (!k->args)
      return -PF_ENOMEM;
    memset(k->args, 0, cfg->more->cli->nargs * sizeof *k->args);
    k->nargs = cfg->more->cli->nargs;
    for (size_t i = 0; i < cfg->more->cli->nargs && rc == 0; i++)
      k->args[i] = compile("args", cfg->more->cli->args[i], err, &rc);
  }
  if (cfg->more->cli->nenv) {
    k->env = pf__malloc(cfg->more->cli->nenv * sizeof *k->env);
    if (!k->env)
      return -PF_ENOMEM;
    memset(k->env, 0, cfg->more->cli->nenv * sizeof *k->env);
    for (size_t i = 0; i < cfg->more->cli->nenv && rc == 0; i++)
      k->env[i] = compile("env", cfg->more->cli->env[i].value, err, &rc);
  }
  if (cfg->more->cli->cwd && rc == 0)
    k->cwd = compile("cwd", cfg->more->cli->cwd, err, &rc);
  if (cfg->more->cli->stdin_template && rc == 0)
    k->stdin_tpl = compile("stdin", cfg->more->cli->stdin_template, err, &rc);
  if (rc)
    return rc;
  rare->start = cli_start;
  t->loop = true;

  if (cfg->build->nparams == 0 && !cfg->input_schema_json) {
    /* the original pforge's examples declare no params: every template
     * variable is a required string */
    size_t cap = 64;
    const char *vars[64];
    size_t n = 0;
    add_vars(k->command, vars, &n, cap);
    for (size_t i = 0; i < k->nargs; i++)
      add_vars(k->args[i], vars, &n, cap);
    for (size_t i = 0; i < cfg->more->cli->nenv; i++)
      add_vars(k->env[i], vars, &n, cap);
    add_vars(k->cwd, vars, &n, cap);
    add_vars(k->stdin_tpl, vars, &n, cap);
    size_t total = n + (cfg->more->cli->allow_extra_args ? 1 : 0);
    if (total) {
      pf_cfg_param *ps = pf_arena_alloc(arena, (total + 1) * sizeof *ps);
      if (!ps)
        return -PF_ENOMEM;
      size_t m = 0;
      for (size_t i = 0; i < n; i++) {
        if (cfg->more->cli->allow_extra_args && strcmp(vars[i], "args") == 0)
          continue;
        init_param(&ps[m++], pf_arena_strndup(arena, vars[i], strlen(vars[i])), PF_PARAM_STRING,
                   true, cfg->build->loc);
      }
      if (cfg->more->cli->allow_extra_args) {
        pf_cfg_param *items = &ps[total]; /* the spare slot */
        init_param(items, NULL, PF_PARAM_STRING, false, cfg->build->loc);
        init_param(&ps[m], "args", PF_PARAM_ARRAY, false, cfg->build->loc);
        ps[m].description = "extra arguments appended to the command line";
        ps[m].items = items;
        m++;
      }
      cfg->build->params = ps;
      cfg->build->nparams = m;
    }
  }
  return 0;
}

void pf__cli_free(pf__tool *t) {
  pf__cli *k = t->rare->kind_data;
  if (!k)
    return;
  pf_tmpl_free(k->command);
  for (size_t i = 0; i < k->nargs; i++)
    pf_tmpl_free(k->args[i]);
  pf__free(k->args);
  if (k->env)
    for (size_t i = 0; i < t->cfg->more->cli->nenv; i++)
      pf_tmpl_free(k->env[i]);
  pf__free(k->env);
  pf_tmpl_free(k->cwd);
  pf_tmpl_free(k->stdin_tpl);
  pf__free(k);
  ((pf__tool_rare *)t->rare)->kind_data = NULL; /* its own block: it had kind_data */
}

/* ------------------------------------------------------------------ */
/* A run                                                                */

enum { PH_TIMEOUT, PH_KILL, PH_DRAIN };

typedef struct run {
  pf_call *call;
  const pf_cfg_tool *cfg;
  uv_process_t proc;
  uv_pipe_t in, out, err;
  uv_timer_t timer;
  uv_write_t wreq;
  uv_buf_t stdin_buf;
  bool proc_open, in_open, out_open, err_open, timer_open;
  bool exited, spawned, timed_out, cancelled, killed;
  int spawn_err;
  int nhandles; /* open handles; finish() when the last one closes */
  int phase;
  int pid;
  int64_t exit_status;
  int term_signal;
  size_t max;
  pf_buf obuf, ebuf;
  bool otrunc, etrunc;
  pf_buf line; /* stream: the partial stdout line */
  double nlines;
  char rbuf[65536];
  const char *cmd;
} run;

static void finish(run *r);

static void on_close(uv_handle_t *h) {
  run *r = h->data;
  if (--r->nhandles == 0)
    finish(r);
}

static void close_h(uv_handle_t *h, bool *open) {
  if (*open) {
    *open = false;
    uv_close(h, on_close);
  }
}

static void signal_group(run *r, int sig) {
  if (r->pid > 0)
    kill(-r->pid, sig);
}

/* Closes whatever is left once the process is gone and its output read. */
static void settle_run(run *r) {
  if (!r->exited || r->out_open || r->err_open)
    return;
  close_h((uv_handle_t *)&r->in, &r->in_open);
  close_h((uv_handle_t *)&r->timer, &r->timer_open);
  close_h((uv_handle_t *)&r->proc, &r->proc_open);
}

static void on_timer(uv_timer_t *h) {
  run *r = h->data;
  switch (r->phase) {
  case PH_TIMEOUT:
    r->timed_out = true;
    signal_group(r, SIGTERM);
    r->phase = PH_KILL;
    uv_timer_start(&r->timer, on_timer, PF_CLI_GRACE_MS, 0);
    break;
  case PH_KILL:
    r->killed = true;
    signal_group(r, SIGKILL);
    break;
  default: /* PH_DRAIN: descendants outside the group still hold the pipes */
    close_h((uv_handle_t *)&r->out, &r->out_open);
    close_h((uv_handle_t *)&r->err, &r->err_open);
    settle_run(r);
    break;
  }
}

static void on_cancel(void *ud) {
  run *r = ud;
  r->cancelled = true;
  if (r->exited || !r->timer_open)
    return;
  signal_group(r, SIGTERM);
  r->phase = PH_KILL;
  uv_timer_start(&r->timer, on_timer, PF_CLI_GRACE_MS, 0);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  run *r = p->data;
  r->exited = true;
  r->exit_status = status;
  r->term_signal = sig;
  /* whatever the command left running in its group goes with it */
  signal_group(r, SIGKILL);
  atomic_fetch_sub(&children, 1);
  if (r->out_open || r->err_open) {
    r->phase = PH_DRAIN;
    uv_timer_start(&r->timer, on_timer, PF_CLI_GRACE_MS, 0);
  }
  settle_run(r);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  run *r = h->data;
  *buf = uv_buf_init(r->rbuf, sizeof r->rbuf);
}

static void keep(run *r, pf_buf *b, bool *trunc, const char *data, size_t n) {
  size_t room = b->len < r->max ? r->max - b->len : 0;
  if (n > room) {
    n = room;
    *trunc = true;
  }
  pf_buf_append(b, data, n);
}

static void stream_line(run *r, const char *s, size_t n) {
  if (n && s[n - 1] == '\r')
    n--;
  pf_call *c = r->call;
  if (pf_cancelled(c))
    return;
  r->nlines += 1;
  char *msg = pf_arena_alloc(c->arena, n + 1);
  if (!msg)
    return;
  memcpy(msg, s, n);
  msg[n] = 0;
  pf_progress(c, r->nlines, 0, msg);
  pf_log(c, PF_LEVEL_INFO, c->name, "%s", msg);
}

static void stream(run *r, const char *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (data[i] == '\n') {
      pf_buf_append(&r->line, data, i);
      stream_line(r, r->line.data ? r->line.data : "", r->line.len);
      pf_buf_reset(&r->line);
      data += i + 1;
      n -= i + 1;
      i = (size_t)-1;
    }
  }
  pf_buf_append(&r->line, data, n);
  if (r->line.len >= 4096) {
    stream_line(r, r->line.data, r->line.len);
    pf_buf_reset(&r->line);
  }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  run *r = s->data;
  bool is_out = s == (uv_stream_t *)&r->out;
  if (n > 0) {
    if (is_out) {
      keep(r, &r->obuf, &r->otrunc, buf->base, (size_t)n);
      if (r->cfg->more->cli->stream)
        stream(r, buf->base, (size_t)n);
    } else {
      keep(r, &r->ebuf, &r->etrunc, buf->base, (size_t)n);
    }
  } else if (n < 0) {
    if (is_out)
      close_h((uv_handle_t *)&r->out, &r->out_open);
    else
      close_h((uv_handle_t *)&r->err, &r->err_open);
    settle_run(r);
  }
}

static void on_write(uv_write_t *w, int status) {
  (void)status;
  run *r = w->data;
  close_h((uv_handle_t *)&r->in, &r->in_open);
}

/* ---- the result ---- */

static void text_block(pf_call *c, const char *prefix, const pf_buf *b, bool trunc, size_t max) {
  pf_buf t = PF_BUF_INIT;
  pf_buf_puts(&t, prefix);
  pf_buf_append(&t, b->data ? b->data : "", b->len);
  if (trunc) {
    char note[96];
    snprintf(note, sizeof note, "\n[output truncated at %zu bytes]", max);
    pf_buf_puts(&t, note);
  }
  pf_result_text(c, t.data ? t.data : "", t.len);
  pf_buf_free(&t);
}

static void finish(run *r) {
  pf_call *c = r->call;
  struct pf__async *a = c->async;
  if (r->cfg->more->cli->stream && r->line.len)
    stream_line(r, r->line.data, r->line.len);
  const char *name = c->name;
  if (r->spawn_err) {
    pf_result_error(c, "Tool '%s': cannot run '%s': %s", name, r->cmd, uv_strerror(r->spawn_err));
  } else if (!pf_cancelled(c)) {
    bool failed = r->timed_out || r->term_signal || r->exit_status != 0;
    if (failed) {
      c->is_error = true;
      if (r->timed_out)
        pf_result_textf(c, "Tool '%s': '%s' timed out after %u ms (killed with %s)", name, r->cmd,
                        r->cfg->timeout_ms ? r->cfg->timeout_ms : PF_CLI_DEFAULT_TIMEOUT_MS,
                        r->killed ? "SIGKILL" : "SIGTERM");
      else if (r->term_signal)
        pf_result_textf(c, "Tool '%s': '%s' was killed by signal %d", name, r->cmd, r->term_signal);
      else
        pf_result_textf(c, "Tool '%s': '%s' exited with code %lld", name, r->cmd,
                        (long long)r->exit_status);
      if (r->ebuf.len)
        text_block(c, "stderr:\n", &r->ebuf, r->etrunc, r->max);
      if (r->obuf.len)
        text_block(c, "stdout:\n", &r->obuf, r->otrunc, r->max);
    } else {
      text_block(c, "", &r->obuf, r->otrunc, r->max);
      if (r->ebuf.len)
        text_block(c, "stderr:\n", &r->ebuf, r->etrunc, r->max);
      if (r->cfg->more->cli->output_json && !r->otrunc && r->obuf.len) {
        const pf_json *v = pf_json_parse_copy(r->obuf.data, r->obuf.len, c->arena, NULL, NULL);
        if (v && pf_json_typeof(v) == PF_JSON_OBJECT) {
          pf_json_writer *w = pf_result_structured(c);
          pf_jw_value(w, v);
        }
      }
    }
  }
  pf_buf_free(&r->obuf);
  pf_buf_free(&r->ebuf);
  pf_buf_free(&r->line);
  pf__async_complete(a, r->timed_out ? -PF_ETIMEDOUT : 0); /* frees the arena r lives in */
}

/* ---- start ---- */

static const pf_json *lookup_default(void *ud, const char *name, size_t len) {
  const pf__tool *t = ud;
  return pf_validator_default(t->input, name, len);
}

static char *render(pf_call *c, const pf_tmpl *t, size_t *len) {
  pf_tmpl_ctx ctx = {.values = c->args, .lookup = lookup_default, .ud = (void *)c->tool};
  pf_buf b = PF_BUF_INIT;
  if (pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &b) != 0 || b.failed) {
    pf_buf_free(&b);
    return NULL;
  }
  char *s = pf_arena_strndup(c->arena, b.data ? b.data : "", b.len);
  if (len)
    *len = b.len;
  pf_buf_free(&b);
  return s;
}

static bool env_allowed(const pf_cfg_tool *cfg, const char *entry) {
  const char *eq = strchr(entry, '=');
  if (!eq)
    return false;
  size_t n = (size_t)(eq - entry);
  if (!cfg->more->cli->has_env_allow)
    return n == 4 && memcmp(entry, "PATH", 4) == 0;
  for (size_t i = 0; i < cfg->more->cli->nenv_allow; i++)
    if (strlen(cfg->more->cli->env_allow[i]) == n && memcmp(cfg->more->cli->env_allow[i], entry, n) == 0)
      return true;
  return false;
}

static bool env_overridden(const pf_cfg_tool *cfg, const char *entry) {
  const char *eq = strchr(entry, '=');
  size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
  for (size_t i = 0; i < cfg->more->cli->nenv; i++)
    if (strlen(cfg->more->cli->env[i].key) == n && memcmp(cfg->more->cli->env[i].key, entry, n) == 0)
      return true;
  return false;
}

static int cli_start(pf_call *c, uv_loop_t *loop) {
  const pf__tool *t = c->tool;
  const pf_cfg_tool *cfg = t->cfg;
  const pf__cli *k = t->rare->kind_data;
  if (atomic_fetch_add(&children, 1) >= PF_CLI_MAX_CHILDREN) {
    atomic_fetch_sub(&children, 1);
    pf_result_error(c, "Tool '%s': too many commands running (at most %d at once); try again later",
                    t->cfg->name, PF_CLI_MAX_CHILDREN);
    return -PF_ELIMIT;
  }
  /* argv: each template is exactly one element */
  const pf_json *extra = cfg->more->cli->allow_extra_args ? pf_json_get(c->args, "args") : NULL;
  size_t nextra = pf_json_typeof(extra) == PF_JSON_ARRAY ? pf_json_len(extra) : 0;
  char **argv = pf_arena_alloc(c->arena, (k->nargs + nextra + 2) * sizeof *argv);
  char *cmd = render(c, k->command, NULL);
  if (!argv || !cmd)
    goto nomem;
  argv[0] = cmd;
  size_t na = 1;
  for (size_t i = 0; i < k->nargs; i++)
    if (!(argv[na++] = render(c, k->args[i], NULL)))
      goto nomem;
  for (size_t i = 0; i < nextra; i++) {
    size_t l;
    const char *s = pf_json_str(pf_json_at(extra, i), &l);
    if (!s || !(argv[na++] = pf_arena_strndup(c->arena, s, l)))
      goto nomem;
  }
  argv[na] = NULL;
  if (!*cmd) {
    atomic_fetch_sub(&children, 1);
    pf_result_error(c, "Tool '%s': the command is empty", t->cfg->name);
    return -PF_EINVAL;
  }
  /* environment */
  size_t nenv = 0;
  while (environ[nenv])
    nenv++;
  char **envp = pf_arena_alloc(c->arena, (nenv + cfg->more->cli->nenv + 1) * sizeof *envp);
  if (!envp)
    goto nomem;
  size_t ne = 0;
  for (size_t i = 0; i < nenv; i++)
    if ((cfg->more->cli->env_clear ? env_allowed(cfg, environ[i]) : true) &&
        !env_overridden(cfg, environ[i]))
      envp[ne++] = environ[i];
  for (size_t i = 0; i < cfg->more->cli->nenv; i++) {
    size_t vl;
    char *v = render(c, k->env[i], &vl);
    size_t kl = strlen(cfg->more->cli->env[i].key);
    char *e = v ? pf_arena_alloc(c->arena, kl + vl + 2) : NULL;
    if (!e)
      goto nomem;
    memcpy(e, cfg->more->cli->env[i].key, kl);
    e[kl] = '=';
    memcpy(e + kl + 1, v, vl + 1);
    envp[ne++] = e;
  }
  envp[ne] = NULL;
  char *cwd = k->cwd ? render(c, k->cwd, NULL) : NULL;
  if (k->cwd && !cwd)
    goto nomem;
  size_t inlen = 0;
  char *in = k->stdin_tpl ? render(c, k->stdin_tpl, &inlen) : NULL;
  if (k->stdin_tpl && !in)
    goto nomem;

  run *r = pf_arena_alloc(c->arena, sizeof *r);
  if (!r)
    goto nomem;
  memset(r, 0, sizeof *r);
  r->call = c;
  r->cfg = cfg;
  r->cmd = cmd;
  r->max = cfg->more->cli->max_output_bytes ? cfg->more->cli->max_output_bytes : 1024 * 1024;
  r->obuf = r->ebuf = r->line = (pf_buf)PF_BUF_INIT;
  r->proc.data = r->in.data = r->out.data = r->err.data = r->timer.data = r;
  r->wreq.data = r;
  uv_timer_init(loop, &r->timer);
  uv_pipe_init(loop, &r->out, 0);
  uv_pipe_init(loop, &r->err, 0);
  r->timer_open = r->out_open = r->err_open = true;
  r->nhandles = 3;
  if (in) {
    uv_pipe_init(loop, &r->in, 0);
    r->in_open = true;
    r->nhandles++;
  }
  uv_stdio_container_t stdio[3];
  stdio[0].flags = in ? (uv_stdio_flags)(UV_CREATE_PIPE | UV_READABLE_PIPE) : UV_IGNORE;
  stdio[0].data.stream = (uv_stream_t *)&r->in;
  stdio[1].flags = (uv_stdio_flags)(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = (uv_stream_t *)&r->out;
  stdio[2].flags = (uv_stdio_flags)(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = (uv_stream_t *)&r->err;
  uv_process_options_t opt;
  memset(&opt, 0, sizeof opt);
  opt.exit_cb = on_exit_cb;
  opt.file = cmd;
  opt.args = argv;
  opt.env = envp;
  opt.cwd = cwd;
  opt.flags = UV_PROCESS_DETACHED; /* setsid: its own process group */
  opt.stdio_count = 3;
  opt.stdio = stdio;
  pf__async_on_cancel(c->async, on_cancel, r);
  r->proc_open = true;
  r->nhandles++;
  int rc = uv_spawn(loop, &r->proc, &opt);
  if (rc != 0) {
    /* completes through the close callbacks, with the error */
    atomic_fetch_sub(&children, 1);
    r->spawn_err = rc;
    r->exited = true;
    close_h((uv_handle_t *)&r->out, &r->out_open);
    close_h((uv_handle_t *)&r->err, &r->err_open);
    settle_run(r);
    return 0;
  }
  r->spawned = true;
  r->pid = r->proc.pid;
  uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
  uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
  if (in) {
    r->stdin_buf = uv_buf_init(in, (unsigned)inlen);
    if (uv_write(&r->wreq, (uv_stream_t *)&r->in, &r->stdin_buf, 1, on_write) != 0)
      close_h((uv_handle_t *)&r->in, &r->in_open);
  }
  r->phase = PH_TIMEOUT;
  uv_timer_start(&r->timer, on_timer, cfg->timeout_ms ? cfg->timeout_ms : PF_CLI_DEFAULT_TIMEOUT_MS,
                 0);
  if (pf_cancelled(c))
    on_cancel(r);
  return 0;

nomem:
  atomic_fetch_sub(&children, 1);
  pf_result_error(c, "Tool '%s' failed: out of memory", t->cfg->name);
  return -PF_ENOMEM;
}
