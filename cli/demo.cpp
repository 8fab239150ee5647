#include "cli/commands.h"
int taper::cli::run_demo(int, char**) { return 0; }
