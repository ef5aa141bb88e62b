/* libFuzzer target for the fast YAML reader (config/yaml.h), differential
 * against libfyaml.
 *
 * For every input, from an exact-size heap copy (ASan catches any read past
 * the end): when the fast reader accepts it, libfyaml must read it without
 * error as one non-empty document and give the same tree (texts, styles,
 * resolved kinds, positions). Declining is always allowed (the loader then
 * uses libfyaml). Then the whole loader runs on it (it must not crash).
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
 *       -Db_lto=false -Dbuildtype=debug -Dbench=false
 *   ninja -C build-fuzz
 *   cp -r fuzz/corpus/yaml /tmp/corpus && build-fuzz/fuzz/fuzz_yaml /tmp/corpus
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/arena.h>
#include <pforge/buf.h>

#include "config/config.h"
#include "config/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  pf_arena *a = pf_arena_create(0);
  bool oom = false;
  pf__ynode *fast = pf__yaml_fast(a, text, size, &oom);
  if (fast) {
    pf__yaml_doc d;
    bool ok = pf__yaml_full(a, text, size, &d, NULL, NULL, &oom);
    char why[128] = "";
    if (!ok || !d.root || d.has_extra || !pf__yaml_equal(fast, d.root, why, sizeof why)) {
      fprintf(stderr, "fuzz_yaml: the fast reader disagrees with libfyaml (%s): %s\n%.*s\n",
              ok ? why : "libfyaml rejects it", d.has_extra ? "(two documents)" : "", (int)size,
              text);
      abort();
    }
  }
  pf_arena_destroy(a);
  pf_config *cfg = NULL;
  pf_buf diag = PF_BUF_INIT;
  pf_config_load_text("fuzz.yaml", text, size, &cfg, &diag);
  pf_config_free(cfg);
  pf_buf_free(&diag);
  free(text);
  return 0;
}
