/* Native handlers of the e2e fixture server (tests/e2e/full/pforge.yaml). */
#include <string.h>
#include <time.h>

#include <pforge/pforge.h>

PF_ABI_DECLARE();

static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0x00, 0xff};
static const unsigned char wav[] = {'R', 'I', 'F', 'F', 0x00, 0x01, 0x02, 0x03};

/* One block of every content type. */
PF_TOOL(fx_everything) {
  int rc = pf_result_textf(call, "text for %s", pf_arg_str(call, "who", "nobody"));
  if (!rc)
    rc = pf_result_image(call, png, sizeof png, "image/png");
  if (!rc)
    rc = pf_result_audio(call, wav, sizeof wav, "audio/wav");
  if (!rc)
    rc = pf_result_resource_link(call, "docs://inline", "inline", "text/plain");
  if (!rc)
    rc = pf_result_resource_text(call, "mem://note", "text/plain", "embedded text", 13);
  if (!rc)
    rc = pf_result_resource_blob(call, "mem://blob", "application/octet-stream", png, sizeof png);
  return rc;
}

PF_TOOL(fx_sum) {
  double a = pf_arg_number(call, "a", 0), b = pf_arg_number(call, "b", 0);
  pf_json_writer *w = pf_result_structured(call);
  if (!w)
    return -PF_ENOMEM;
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "sum");
  pf_jw_double(w, a + b);
  pf_jw_obj_end(w);
  return 0;
}

/* Declares {sum: number} but returns a string. */
PF_TOOL(fx_bad_sum) {
  pf_json_writer *w = pf_result_structured(call);
  if (!w)
    return -PF_ENOMEM;
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "sum");
  pf_jw_strz(w, "not a number");
  pf_jw_obj_end(w);
  return 0;
}

/* Structured output that is not a complete JSON value (a handler bug). */
PF_TOOL(fx_broken_structured) {
  pf_json_writer *w = pf_result_structured(call);
  if (!w)
    return -PF_ENOMEM;
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "half");
  return 0;
}

/* Blocking: `steps` steps of `step_ms` each, with progress and logs; stops
 * early when cancelled. */
PF_TOOL(fx_slow) {
  int64_t steps = pf_arg_int(call, "steps", 3), step_ms = pf_arg_int(call, "step_ms", 50);
  for (int64_t i = 0; i < steps; i++) {
    /* sleep in small slices so that a cancellation is seen quickly */
    for (int64_t t = 0; t < step_ms; t += 10) {
      if (pf_cancelled(call))
        return 0;
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    pf_progress(call, (double)(i + 1), (double)steps, "working");
    pf_log(call, PF_LEVEL_DEBUG, NULL, "slow debug %d", (int)i);
    pf_log(call, PF_LEVEL_INFO, "fx", "slow info %d", (int)i);
  }
  return pf_result_textf(call, "slept %d steps", (int)steps);
}

/* Logs once at every level, then answers. */
PF_TOOL(fx_chatty) {
  for (int l = PF_LEVEL_DEBUG; l <= PF_LEVEL_EMERGENCY; l++)
    pf_log(call, (pf_level)l, "chatty", "level %d", l);
  pf_progress(call, 1, 2, "half");
  pf_progress(call, 1, 2, "not increasing: dropped");
  pf_progress(call, 2, 2, NULL);
  return pf_result_textz(call, "chatted");
}

PF_TOOL(fx_fail_code) {
  pf_result_textz(call, "discarded partial output");
  return -PF_EINVAL;
}

PF_TOOL(fx_fail_result) {
  return pf_result_error(call, "it went wrong: %d", (int)pf_arg_int(call, "code", 7));
}

PF_TOOL(fx_annotated) { return pf_result_textz(call, pf_call_name(call)); }

/* Resources */

PF_TOOL(fx_res_status) { return pf_result_textf(call, "status of %s: ok", pf_call_name(call)); }

PF_TOOL(fx_res_blob) {
  return pf_result_resource_blob(call, pf_call_name(call), "image/png", png, sizeof png);
}

PF_TOOL(fx_res_note) {
  return pf_result_textf(call, "note %s in %s", pf_arg_str(call, "id", "?"),
                         pf_arg_str(call, "folder", "?"));
}

PF_TOOL(fx_res_empty) {
  (void)call;
  return 0;
}

/* Tells the subscribers of `uri` that it changed: served inline and as a
 * blocking tool by tests/e2e/full/stdio.yaml. */
PF_TOOL(fx_touch) {
  const char *uri = pf_arg_str(call, "uri", NULL);
  int rc = pf_resource_updated(call, uri);
  if (rc != 0)
    return pf_result_error(call, "pf_resource_updated failed: %d", rc);
  return pf_result_textf(call, "touched %s", uri);
}
