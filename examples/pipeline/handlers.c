/* Native tools the pipeline example chains (examples/pipeline/pforge.yaml). */
#include <ctype.h>
#include <string.h>

#include <pforge/pforge.h>

PF_ABI_DECLARE();

/* Splits text into words: {"words": [...], "count": n}. */
PF_TOOL(split_words) {
  const char *text = pf_arg_str(call, "text", "");
  pf_json_writer *w = pf_result_structured(call);
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "words");
  pf_jw_arr_begin(w);
  size_t n = 0;
  for (const char *p = text; *p;) {
    while (*p && isspace((unsigned char)*p))
      p++;
    const char *s = p;
    while (*p && !isspace((unsigned char)*p))
      p++;
    if (p > s) {
      pf_jw_str(w, s, (size_t)(p - s));
      n++;
    }
  }
  pf_jw_arr_end(w);
  PF_JW_KEY(w, "count");
  pf_jw_uint(w, n);
  pf_jw_obj_end(w);
  return 0;
}

/* Upper-cases a text. */
PF_TOOL(shout) {
  const char *text = pf_arg_str(call, "text", "");
  size_t n = strlen(text);
  char *out = pf_call_alloc(call, n + 1);
  if (!out)
    return -PF_ENOMEM;
  for (size_t i = 0; i <= n; i++)
    out[i] = (char)toupper((unsigned char)text[i]);
  return pf_result_text(call, out, n);
}

/* Reports a count as a sentence. */
PF_TOOL(report) {
  return pf_result_textf(call, "%s has %lld words", pf_arg_str(call, "label", "the text"),
                         (long long)pf_arg_int(call, "count", 0));
}

/* Always fails: shows error_policy. */
PF_TOOL(unreliable) {
  return pf_result_error(call, "the unreliable step failed for '%s'",
                         pf_arg_str(call, "text", ""));
}
