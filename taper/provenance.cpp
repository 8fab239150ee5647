#include "taper/provenance.h"

#include <cstdio>
#include <ctime>
#include <unistd.h>

#include "engine/cpu/blas_kernels.h"

namespace taper {

namespace {

std::string shell_line(const char* cmd) {
  std::string out;
  if (FILE* p = popen(cmd, "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

std::string commit() {
  const std::string head = shell_line("git rev-parse --short HEAD 2>/dev/null");
  // Results being rewritten do not make the code that produced them dirty.
  const std::string dirty =
      shell_line("git status --porcelain --untracked-files=no -- . ':!results' 2>/dev/null | head -1");
  return (head.empty() ? "unknown" : head) + (dirty.empty() ? "" : "-dirty");
}

std::string machine() {
  std::string cpu = shell_line("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
  return (cpu.empty() ? std::string("unknown CPU") : cpu.substr(cpu.find_first_not_of(' '))) + ", " +
         std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores, compiled for " + compiled_arch() + ", OpenBLAS " +
         blas_core_name() + " kernels";
}

std::string utc_now() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

}  // namespace taper
