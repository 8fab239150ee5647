// Which OpenBLAS kernels the process runs, and pinning them.
//
// Why pin: Debian's OpenBLAS picks its kernels at load time from the CPU
// (Zen on AMD EPYC, SkylakeX where AVX-512 exists, ...), and the kernels sum
// in different orders, so the same binary trains to different numbers on
// different servers. Every run of taper uses the Zen kernels (AVX2 + FMA, which
// the build's -march=x86-64-v3 already requires; OpenBLAS runs them on Intel
// too) unless the user sets OPENBLAS_CORETYPE: the committed results were
// trained with them, and so reproduce on any x86 server with AVX2.
#pragma once

namespace taper {

inline constexpr const char* kPinnedBlasCore = "Zen";

// The kernel set OpenBLAS chose ("Haswell", "Zen", "SkylakeX", ...).
const char* blas_core_name();

// The target the code was compiled for: the Makefile's ARCH and TUNE
// ("x86-64-v3,tune=znver3").
const char* compiled_arch();

// OpenBLAS reads OPENBLAS_CORETYPE once, when it is loaded, before main: so
// when the variable is unset this sets it to kPinnedBlasCore and re-executes
// the program with the same arguments. Returns only when no re-execution was
// needed or it failed (then with a warning on stderr).
void pin_blas_kernels(char** argv);

}  // namespace taper
