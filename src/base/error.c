#include <pforge/error.h>
#include <pforge/version.h>

static const struct {
  const char *name, *msg;
  int code;
} errtab[] = {
#define PF__ERR_ROW(name, msg, code) {#name, msg, code},
    PF_ERRNO_MAP(PF__ERR_ROW)
#undef PF__ERR_ROW
};

static int idx(int err) { return err < 0 ? -err : err; }

const char *pf_strerror(int err) {
  int i = idx(err);
  return i < PF_E__COUNT ? errtab[i].msg : "unknown error";
}

const char *pf_err_name(int err) {
  int i = idx(err);
  return i < PF_E__COUNT ? errtab[i].name : "UNKNOWN";
}

int pf_err_rpc_code(int err) {
  int i = idx(err);
  return i < PF_E__COUNT ? errtab[i].code : -32603;
}

const char *pf_version(void) { return PF_VERSION; }
