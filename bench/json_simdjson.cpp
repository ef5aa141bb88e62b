// simdjson DOM comparator for bench/json.c (C++ is allowed only here).
//
// The idiomatic fast use: one dom::parser reused for every document (its
// buffers are kept across parses, so the steady state allocates nothing),
// input already padded with SIMDJSON_PADDING bytes (parse(..., false) via
// padded_string_view: no internal copy), error codes instead of exceptions.
#include "json_bench.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include <simdjson.h>

struct pfb_sj {
  simdjson::dom::parser parser;
};

size_t pfb_sj_padding(void) { return simdjson::SIMDJSON_PADDING; }

const char *pfb_sj_implementation(void) {
  static std::string name;
  name = simdjson::get_active_implementation()->name();
  return name.c_str();
}

pfb_sj *pfb_sj_create(void) { return new (std::nothrow) pfb_sj(); }

void pfb_sj_destroy(pfb_sj *sj) { delete sj; }

static inline bool sj_parse(simdjson::dom::parser &parser, const char *buf, size_t len, bool full,
                            pfb_rpc *out) {
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string_view(buf, len, len + simdjson::SIMDJSON_PADDING))
          .get(doc))
    return false;
  std::string_view method, name;
  simdjson::dom::element params;
  if (doc["method"].get(method) || doc["params"].get(params) || params["name"].get(name))
    return false;
  out->method = method.data();
  out->method_len = method.size();
  out->name = name.data();
  out->name_len = name.size();
  out->id = 0;
  out->a = out->b = 0;
  if (full) {
    simdjson::dom::element args;
    if (doc["id"].get(out->id) || params["arguments"].get(args) || args["a"].get(out->a) ||
        args["b"].get(out->b))
      return false;
  }
  return true;
}

bool pfb_sj_parse(pfb_sj *sj, const char *buf, size_t len, bool full, pfb_rpc *out) {
  return sj_parse(sj->parser, buf, len, full, out);
}

double pfb_sj_loop(pfb_sj *sj, const char *buf, size_t len, bool full, size_t iters) {
  double sum = 0;
  for (size_t i = 0; i < iters; i++) {
    pfb_rpc r;
    if (!sj_parse(sj->parser, buf, len, full, &r))
      return NAN;
    sum += pfb_rpc_sum(&r);
  }
  return sum;
}

char *pfb_sj_minify(pfb_sj *sj, const char *buf, size_t len, size_t *out_len) {
  simdjson::dom::element doc;
  if (sj->parser.parse(simdjson::padded_string_view(buf, len, len + simdjson::SIMDJSON_PADDING))
          .get(doc))
    return nullptr;
  std::string s = simdjson::minify(doc);
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (!p)
    return nullptr;
  std::memcpy(p, s.data(), s.size() + 1);
  *out_len = s.size();
  return p;
}
