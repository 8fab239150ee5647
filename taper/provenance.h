// Where results come from, as the results and the ledger record it: the
// commit of the code, the machine, and the time.
#pragma once

#include <string>

namespace taper {

// The short hash of HEAD ("unknown" outside a checkout), with "-dirty" when
// tracked files outside results/ have uncommitted changes.
std::string commit();

// The CPU, its cores, the architecture compiled for and OpenBLAS's kernels.
std::string machine();

// Now, as "2025-01-31 12:00 UTC".
std::string utc_now();

}  // namespace taper
