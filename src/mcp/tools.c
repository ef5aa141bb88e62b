/* tools/call: argument validation, native handlers (inline or on the thread
 * pool), result assembly, output-schema checks, cancellation. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "json/internal.h"
#include "mcp/internal.h"
#include "schema/validator.h"

/* `{}` as the parser builds it (a container's v.u counts its nodes). A
 * static node: an arena allocated once per process was reported as a leak. */
static const struct pf_json empty_object = {PF_JSON_OBJECT, 0, {.u = 1}};
const pf_json *pf__empty_object = &empty_object;

/* Appends the tools/call result for a finished call to out. */
void pf__tool_write_result(pf_call *c, const pf_json *id, const char *id_text, pf_buf *out) {
  const pf__tool *t = c->tool;
  bool structured = c->has_structured && !c->is_error;
  if (structured && c->structured->failed) {
    pf_buf_reset(c->content);
    c->nblocks = 0;
    pf_result_error(c, "Tool '%s' failed: out of memory", t->cfg->name);
    structured = false;
  }
  if (structured) {
    /* The handler wrote structuredContent itself: make sure it is one
     * complete JSON value before it goes into the response, and the client
     * validates it against outputSchema: catch a handler's mistake here,
     * with a message that names it. */
    pf_json_error jerr;
    const pf_json *v =
        pf_json_parse_copy(c->structured->data, c->structured->len, c->arena, NULL, &jerr);
    pf_buf msg = PF_BUF_INIT;
    if (!v) {
      pf_buf_reset(c->content);
      c->nblocks = 0;
      pf_result_error(c, "Tool '%s' produced invalid structured output: %s at byte %zu",
                      t->cfg->name, jerr.msg, jerr.offset);
      structured = false;
    } else if (t->rare->output && pf_validator_check(t->rare->output, v, &msg) != 0) {
      pf_buf_reset(c->content);
      c->nblocks = 0;
      pf_result_error(c, "Tool '%s' output does not match its outputSchema: %s", t->cfg->name,
                      pf_buf_cstr(&msg));
      structured = false;
    }
    pf_buf_free(&msg);
  } else if (!structured && t->rare->output && !c->is_error) {
    pf_buf_reset(c->content);
    c->nblocks = 0;
    pf_result_error(c, "Tool '%s' declares an outputSchema but returned no structured content",
                    t->cfg->name);
  }
  if (structured && c->nblocks == 0)
    pf_result_text(c, c->structured->data, c->structured->len);
  /* structuredContent (and outputSchema, see tools/list) came with
   * 2025-06-18: an older client gets the content blocks only, the text
   * block above among them */
  if (c->proto < PF_PROTO_2025_06_18)
    structured = false;

  pf__rpc_open(out, id, id_text);
  /* the rest in one reservation */
  static const char mid[] = ",\"result\":{\"content\":[";
  static const char sc[] = "],\"structuredContent\":";
  static const char err[] = "],\"isError\":true}}\n";
  size_t slen = structured ? c->structured->len : 0;
  if (pf_buf_reserve(out, sizeof mid + c->content->len + sizeof sc + slen + sizeof err) != 0)
    return;
  char *o = out->data + out->len;
  memcpy(o, mid, sizeof mid - 1);
  o += sizeof mid - 1;
  if (c->content->len) {
    memcpy(o, c->content->data, c->content->len);
    o += c->content->len;
  }
  if (structured) {
    memcpy(o, sc, sizeof sc - 1);
    o += sizeof sc - 1;
    if (slen) {
      memcpy(o, c->structured->data, slen);
      o += slen;
    }
    *o++ = '}';
    *o++ = '}';
    *o++ = '\n';
    /* a structured result is never an error */
  } else if (c->is_error) {
    memcpy(o, err, sizeof err - 1);
    o += sizeof err - 1;
  } else {
    memcpy(o, "]}}\n", 4);
    o += 4;
  }
  out->len = (size_t)(o - out->data);
}

/* After a handler returned rc. */
__attribute__((cold)) void pf__tool_settle_fail(pf_call *c, int rc) {
  if (rc < 0 && !c->is_error) {
    pf_buf_reset(c->content);
    c->nblocks = 0;
    c->has_structured = false;
    pf_result_error(c, "Tool '%s' failed: %s", c->tool->cfg->name, pf_strerror(rc));
  }
  if (c->content->failed) {
    pf_buf_reset(c->content);
    c->nblocks = 0;
    c->has_structured = false;
    pf_result_error(c, "Tool '%s' failed: out of memory", c->tool->cfg->name);
  }
}

/* ------------------------------------------------------------------ */

void pf__m_tools_call(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out) {
  const pf_json *namev = NULL, *args = NULL, *meta = NULL;
  pf__scratch *sc = pf__scratch_get();
  pf__msg_memo *mm = sc->cur; /* the message's shape, when it has one */
  if (mm && mm->call && params) {
    namev = mm->name ? params + mm->name : NULL;
    args = mm->args ? params + mm->args : NULL;
    meta = mm->meta ? params + mm->meta : NULL;
  } else {
    /* straight from the node array (params is an object or NULL) */
    const pf_json *k = params ? params + 1 : NULL, *v;
    for (uint32_t im = 0; params && im < params->len; im++, k = v + pf__json_span(v)) {
      v = k + 1;
      size_t kl = k->len;
      const char *ks = k->v.s;
      if (kl == 4 && memcmp(ks, "name", 4) == 0)
        namev = v;
      else if (kl == 9 && memcmp(ks, "arguments", 9) == 0)
        args = v;
      else if (kl == 5 && memcmp(ks, "_meta", 5) == 0)
        meta = v;
    }
    if (mm && params) {
      mm->name = (uint8_t)(namev ? namev - params : 0);
      mm->args = (uint8_t)(args ? args - params : 0);
      mm->meta = (uint8_t)(meta ? meta - params : 0);
      mm->call = true;
    }
  }
  size_t nlen;
  const char *name = pf_json_str(namev, &nlen);
  if (!name) {
    pf__rpc_error(out, id, -32602, "Invalid params: tools/call needs a tool name", NULL);
    return;
  }
  long ti = pf__registry_find(&s->srv->tool_reg, name, nlen);
  if (ti < 0 || atomic_load(&s->srv->tools[ti].hidden)) {
    pf__rpc_errorf(out, id, -32602, "Unknown tool: %.*s", (int)(nlen > 200 ? 200 : nlen), name);
    return;
  }
  const pf__tool *t = &s->srv->tools[ti];
  if (!args || pf_json_typeof(args) == PF_JSON_NULL) {
    args = pf__empty_object;
  } else if (pf_json_typeof(args) != PF_JSON_OBJECT) {
    pf__rpc_error(out, id, -32602, "Invalid params: arguments must be an object", NULL);
    return;
  }
  const pf_json *token = meta ? pf_json_get(meta, "progressToken") : NULL;
  if (token && !(pf_json_typeof(token) == PF_JSON_STRING || pf_json_typeof(token) == PF_JSON_INT ||
                 pf_json_typeof(token) == PF_JSON_UINT))
    token = NULL;

  pf_call c;
  pf__call_init(&c, s, t, args, &sc->content, &sc->structured, out, sc->arena, token);
  /* Invalid arguments are a tool result the model can read and correct
   * (protocol 2025-11-25, SEP-1303), not a protocol error. */
  if (!mm || mm->vtool1 != (uint32_t)ti + 1 || mm->vuid != s->srv->uid) {
    pf_buf msg = PF_BUF_INIT;
    if (pf_validator_check(t->input, args, &msg) != 0) {
      pf_result_error(&c, "Invalid arguments for tool '%s': %s", t->cfg->name, pf_buf_cstr(&msg));
      pf_buf_free(&msg);
      pf__tool_write_result(&c, id, NULL, out);
      return;
    }
    if (msg.data) /* a passing check writes nothing */
      pf_buf_free(&msg);
    if (mm && pf_validator_by_layout(t->input)) { /* the shape's later messages pass too */
      mm->vtool1 = (uint32_t)ti + 1;
      mm->vuid = s->srv->uid;
    }
  }
  if (t->loop || t->blocking || t->policied) {
    pf__invoke_request(s, t, id, args, token, out, sc->ctx);
    return;
  }
  /* The fast path: a native handler inline, no policy. */
  pf__stamp t0 = pf__stamp_now();
  int rc = t->fn(&c);
  pf__tool_settle(&c, rc);
  pf__stats_record(pf__tool_counters(t), pf__stamp_ns(t0, pf__stamp_now()), c.is_error);
  pf__tool_write_result(&c, id, NULL, out);
}
